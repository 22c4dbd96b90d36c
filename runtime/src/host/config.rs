//! `config`: the plugin's configuration values, plus any secret its
//! manifest explicitly exposes.

use wasmtime::component::{HasSelf, Linker};

use super::HostState;
use crate::engine::bindings::config;

impl config::Host for HostState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.plugin.config_value(&key))
    }

    async fn all(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self.plugin.config_values())
    }
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    config::add_to_linker::<_, HasSelf<HostState>>(linker, |state| state)
}
