//! `portitor plugin new`: writes a plugin project a tenant builds and tests
//! with only its language's toolchain and this binary.
//!
//! A project holds the plugin's source, its manifest (`plugin.toml`), a
//! fixture that passes as written (`portitor plugin test`), a README with
//! the whole path to production, and under `sdk/` the WIT and the SDK of its
//! language, copied from this binary so that the project builds without
//! Portitor's repository: the Rust crate `portitor-guest`, or the Python and
//! TypeScript helpers with their one-command build scripts, which generate
//! the bindings from `sdk/wit` at every build. The templates are in
//! `guest-sdk/templates/`; the fixture and manifest of a kind are the same
//! in every language, so the three templates of a kind make the same events.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::plugins::manifest::PluginKind;

/// The plugin kinds a project can be made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PushSource,
    PullSource,
    Validator,
    Mapper,
    Warehouse,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Self::PushSource, Self::PullSource, Self::Validator, Self::Mapper, Self::Warehouse];

    /// The manifest's name of the kind (and the WIT world's).
    pub fn name(self) -> &'static str {
        PluginKind::from(self).as_str()
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let text = match text {
            "push" => "push-source",
            "pull" => "pull-source",
            other => other,
        };
        Self::ALL.into_iter().find(|kind| kind.name() == text).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|kind| kind.name()).collect();
            format!("`{text}` is not a kind a project can be made for: {}", names.join(", "))
        })
    }

    fn manifest(self) -> &'static str {
        match self {
            Self::PushSource => include_str!("../../../guest-sdk/templates/push-source/plugin.toml"),
            Self::PullSource => include_str!("../../../guest-sdk/templates/pull-source/plugin.toml"),
            Self::Validator => include_str!("../../../guest-sdk/templates/validator/plugin.toml"),
            Self::Mapper => include_str!("../../../guest-sdk/templates/mapper/plugin.toml"),
            Self::Warehouse => include_str!("../../../guest-sdk/templates/warehouse/plugin.toml"),
        }
    }

    fn fixture(self) -> &'static str {
        match self {
            Self::PushSource => include_str!("../../../guest-sdk/templates/push-source/fixture.json"),
            Self::PullSource => include_str!("../../../guest-sdk/templates/pull-source/fixture.json"),
            Self::Validator => include_str!("../../../guest-sdk/templates/validator/fixture.json"),
            Self::Mapper => include_str!("../../../guest-sdk/templates/mapper/fixture.json"),
            Self::Warehouse => include_str!("../../../guest-sdk/templates/warehouse/fixture.json"),
        }
    }
}

impl From<Kind> for PluginKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::PushSource => Self::PushSource,
            Kind::PullSource => Self::PullSource,
            Kind::Validator => Self::Validator,
            Kind::Mapper => Self::Mapper,
            Kind::Warehouse => Self::Warehouse,
        }
    }
}

/// The languages a project can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Rust,
    Python,
    TypeScript,
}

impl Language {
    pub const ALL: [Language; 3] = [Self::Rust, Self::Python, Self::TypeScript];

    pub fn name(self) -> &'static str {
        match self {
            Self::Rust => "rust",
            Self::Python => "python",
            Self::TypeScript => "typescript",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let text = match text {
            "py" => "python",
            "ts" => "typescript",
            other => other,
        };
        Self::ALL
            .into_iter()
            .find(|language| language.name() == text)
            .ok_or_else(|| format!("`{text}` is not a language a project can be made in: rust, python, typescript"))
    }

    /// The plugin's source file in the project, and its template for `kind`.
    fn source(self, kind: Kind) -> (&'static str, &'static str) {
        use Kind::*;
        let template = match (self, kind) {
            (Self::Rust, PushSource) => include_str!("../../../guest-sdk/templates/rust/push-source.rs"),
            (Self::Rust, PullSource) => include_str!("../../../guest-sdk/templates/rust/pull-source.rs"),
            (Self::Rust, Validator) => include_str!("../../../guest-sdk/templates/rust/validator.rs"),
            (Self::Rust, Mapper) => include_str!("../../../guest-sdk/templates/rust/mapper.rs"),
            (Self::Rust, Warehouse) => include_str!("../../../guest-sdk/templates/rust/warehouse.rs"),
            (Self::Python, PushSource) => include_str!("../../../guest-sdk/templates/python/push-source.py"),
            (Self::Python, PullSource) => include_str!("../../../guest-sdk/templates/python/pull-source.py"),
            (Self::Python, Validator) => include_str!("../../../guest-sdk/templates/python/validator.py"),
            (Self::Python, Mapper) => include_str!("../../../guest-sdk/templates/python/mapper.py"),
            (Self::Python, Warehouse) => include_str!("../../../guest-sdk/templates/python/warehouse.py"),
            (Self::TypeScript, PushSource) => include_str!("../../../guest-sdk/templates/typescript/push-source.ts"),
            (Self::TypeScript, PullSource) => include_str!("../../../guest-sdk/templates/typescript/pull-source.ts"),
            (Self::TypeScript, Validator) => include_str!("../../../guest-sdk/templates/typescript/validator.ts"),
            (Self::TypeScript, Mapper) => include_str!("../../../guest-sdk/templates/typescript/mapper.ts"),
            (Self::TypeScript, Warehouse) => include_str!("../../../guest-sdk/templates/typescript/warehouse.ts"),
        };
        let file = match self {
            Self::Rust => "src/lib.rs",
            Self::Python => "app.py",
            Self::TypeScript => "plugin.ts",
        };
        (file, template)
    }

    /// The command that builds the component, and the component it writes.
    pub fn build(self, name: &str) -> (String, String) {
        match self {
            Self::Rust => (
                "cargo build --release --target wasm32-wasip2".to_string(),
                format!("target/wasm32-wasip2/release/{}.wasm", name.replace('-', "_")),
            ),
            Self::Python => ("python3 sdk/python/build.py".to_string(), "plugin.wasm".to_string()),
            Self::TypeScript => ("npm install && npm run build".to_string(), "plugin.wasm".to_string()),
        }
    }
}

/// The WIT, the contract every language's bindings are generated from.
const WIT: [(&str, &str); 3] = [
    ("sdk/wit/host.wit", include_str!("../../../wit/host.wit")),
    ("sdk/wit/types.wit", include_str!("../../../wit/types.wit")),
    ("sdk/wit/worlds.wit", include_str!("../../../wit/worlds.wit")),
];

/// The Rust SDK's sources; its `Cargo.toml` is [`RUST_SDK_MANIFEST`].
const RUST_SDK: [(&str, &str); 8] = [
    ("sdk/rust/src/lib.rs", include_str!("../../../guest-sdk/src/lib.rs")),
    ("sdk/rust/src/config.rs", include_str!("../../../guest-sdk/src/config.rs")),
    ("sdk/rust/src/crypto.rs", include_str!("../../../guest-sdk/src/crypto.rs")),
    ("sdk/rust/src/cursor.rs", include_str!("../../../guest-sdk/src/cursor.rs")),
    ("sdk/rust/src/ftp.rs", include_str!("../../../guest-sdk/src/ftp.rs")),
    ("sdk/rust/src/http.rs", include_str!("../../../guest-sdk/src/http.rs")),
    ("sdk/rust/src/log.rs", include_str!("../../../guest-sdk/src/log.rs")),
    ("sdk/rust/src/types.rs", include_str!("../../../guest-sdk/src/types.rs")),
];

/// The Rust SDK's manifest outside Portitor's workspace; the versions are
/// the workspace's (a test compares them).
const RUST_SDK_MANIFEST: &str = r#"[package]
name = "portitor-guest"
description = "Write Portitor integration plugins: implement a trait, export it with one macro."
version = "0.1.0"
edition = "2024"
license = "Apache-2.0"
publish = false

[dependencies]
serde = { version = "1", features = ["derive"] }
serde_json = { version = "1", features = ["raw_value"] }
wit-bindgen = { version = "0.63", default-features = false, features = ["macros", "realloc"] }
"#;

const PYTHON_SDK: [(&str, &str); 2] = [
    ("sdk/python/portitor_sdk.py", include_str!("../../../guest-sdk/python/portitor_sdk.py")),
    ("sdk/python/build.py", include_str!("../../../guest-sdk/python/build.py")),
];

const TYPESCRIPT_SDK: [(&str, &str); 2] = [
    ("sdk/typescript/portitor.ts", include_str!("../../../guest-sdk/typescript/portitor.ts")),
    ("sdk/typescript/build.mjs", include_str!("../../../guest-sdk/typescript/build.mjs")),
];

/// The toolchains' versions the projects pin: the ones Portitor's own tests
/// build with (`just setup`; a test compares them).
pub const COMPONENTIZE_PY: &str = "0.25.1";
pub const COMPONENTIZE_JS: &str = "0.23.0";
pub const TYPESCRIPT: &str = "5.9.3";
pub const JCO: &str = "1.35.0";
pub const ROLLDOWN: &str = "1.3.4";

/// Writes project `name` for `kind` in `language` under `dir`; its path.
/// Refuses a name that is not a plain lower-case identifier and a
/// directory that exists (nothing is overwritten).
pub fn create(dir: &Path, name: &str, kind: Kind, language: Language) -> anyhow::Result<PathBuf> {
    check_name(name).map_err(anyhow::Error::msg)?;
    let project = dir.join(name);
    if project.exists() {
        bail!("{} exists; choose another name or directory", project.display());
    }
    for (path, text) in files(name, kind, language) {
        let path = project.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(project)
}

/// What to run next, printed after the project is written.
pub fn next_steps(project: &Path, language: Language) -> String {
    let name = project.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let (build, component) = language.build(&name);
    format!(
        "Created {}. Build it and run its fixture:\n  cd {}\n  {build}\n  portitor plugin test --component {component} --manifest plugin.toml\nThe project's README.md goes on from there (upload, activate, watch).",
        project.display(),
        project.display(),
    )
}

fn check_name(name: &str) -> Result<(), String> {
    let plain = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if plain {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a plugin name: lower-case letters, digits and `-`, starting with a letter (it is also the plugin's id)"
        ))
    }
}

/// Every file of the project, as (path, content).
fn files(name: &str, kind: Kind, language: Language) -> Vec<(String, String)> {
    let fill = |template: &str| template.replace("{{name}}", name).replace("{{type}}", &type_name(name));
    let (source_path, source) = language.source(kind);
    let mut files = vec![
        ("plugin.toml".to_string(), kind.manifest().to_string()),
        ("fixtures/example.json".to_string(), fill(kind.fixture())),
        (source_path.to_string(), fill(source)),
        ("README.md".to_string(), readme(name, kind, language)),
        (".gitignore".to_string(), GITIGNORE.to_string()),
    ];
    files.extend(WIT.iter().map(|(path, text)| (path.to_string(), text.to_string())));
    match language {
        Language::Rust => {
            files.push(("Cargo.toml".to_string(), rust_manifest(name)));
            files.push(("sdk/rust/Cargo.toml".to_string(), RUST_SDK_MANIFEST.to_string()));
            files.extend(RUST_SDK.iter().map(|(path, text)| (path.to_string(), text.to_string())));
        }
        Language::Python => {
            files.push(("requirements.txt".to_string(), format!("componentize-py=={COMPONENTIZE_PY}\n")));
            files.extend(PYTHON_SDK.iter().map(|(path, text)| (path.to_string(), text.to_string())));
        }
        Language::TypeScript => {
            files.push(("package.json".to_string(), package_json(name)));
            files.push(("tsconfig.json".to_string(), TSCONFIG.to_string()));
            files.extend(TYPESCRIPT_SDK.iter().map(|(path, text)| (path.to_string(), text.to_string())));
        }
    }
    files
}

/// `acme-orders` → `AcmeOrders`.
fn type_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

const GITIGNORE: &str =
    "/target/\n/node_modules/\n*.wasm\n__pycache__/\n/sdk/python/bindings/\n/sdk/typescript/types/\n";

const TSCONFIG: &str = r#"{
  "compilerOptions": {
    "strict": true,
    "target": "ES2022",
    "module": "ES2022",
    "moduleResolution": "bundler",
    "allowImportingTsExtensions": true,
    "noEmit": true,
    "lib": ["ES2022", "ES2021.String", "DOM"],
    "types": []
  },
  "include": ["plugin.ts", "sdk/typescript/**/*.ts"]
}
"#;

fn rust_manifest(name: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
portitor-guest = {{ path = "sdk/rust" }}
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"

# A plugin runs on every partner request: built for speed, small and
# without unwinding (a panic ends the invocation; the runtime reports it).
[profile.release]
opt-level = 3
lto = true
codegen-units = 1
strip = true
panic = "abort"

# A project of its own, even inside another workspace.
[workspace]
"#
    )
}

fn package_json(name: &str) -> String {
    format!(
        r#"{{
  "name": "{name}",
  "version": "0.1.0",
  "private": true,
  "type": "module",
  "scripts": {{
    "build": "node sdk/typescript/build.mjs"
  }},
  "devDependencies": {{
    "@bytecodealliance/componentize-js": "{COMPONENTIZE_JS}",
    "@bytecodealliance/jco": "{JCO}",
    "rolldown": "{ROLLDOWN}",
    "typescript": "{TYPESCRIPT}"
  }}
}}
"#
    )
}

fn readme(name: &str, kind: Kind, language: Language) -> String {
    let (build, component) = language.build(name);
    let setup = match language {
        Language::Rust => "rustup target add wasm32-wasip2",
        Language::Python => "python3 -m pip install -r requirements.txt",
        Language::TypeScript => "npm install",
    };
    let generated = match language {
        Language::Rust => {
            "`sdk/rust` is Portitor's Rust SDK (`portitor-guest`); its bindings are generated from `sdk/wit` when it compiles."
        }
        Language::Python => {
            "`sdk/python/portitor_sdk.py` holds the helpers; the build writes the bindings of the plugin's world, generated from `sdk/wit`, to `sdk/python/bindings/` for your editor (never edit them)."
        }
        Language::TypeScript => {
            "`sdk/typescript/portitor.ts` holds the helpers; the build writes the types of the plugin's world, generated from `sdk/wit`, to `sdk/typescript/types/` and type-checks the plugin against them (strict)."
        }
    };
    format!(
        r#"# {name}

A Portitor {kind} plugin in {language}, made by `portitor plugin new`.

## Build and test

```sh
{setup}
{build}
portitor plugin test --component {component} --manifest plugin.toml
```

`portitor plugin test` runs the component in Portitor's own engine, under
`plugin.toml`'s limits and network policy, over every file in `fixtures/`:
the input of one invocation, the answers to the HTTP requests it makes
(never sent to the network), and what it must give under `expect`. Add a
fixture without `expect` and run with `--bless` to write what the plugin
gives; read it, then keep it.

{generated}

## Put it live

```sh
export PORTITOR_URL=https://portitor.example PORTITOR_TOKEN=<a tenant-admin token>
portitor plugin upload {name} --manifest plugin.toml --component {component} --no-activate
portitor plugin versions {name}
portitor plugin activate {name} <version>
portitor plugin logs {name}
```

Secrets the manifest names (`secret`, `password_secret`) are set for the
tenant through the admin API; the plugin never sees them.
"#,
        kind = kind.name(),
        language = match language {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::TypeScript => "TypeScript",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_identifiers_and_types_follow_them() {
        assert!(check_name("acme-orders").is_ok());
        for bad in ["", "Acme", "1acme", "acme_orders", "acme-", "../x", "a/b", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?} must be refused");
        }
        assert_eq!(type_name("acme-orders-2"), "AcmeOrders2");
    }

    #[test]
    fn every_kind_and_language_has_a_filled_template() {
        for kind in Kind::ALL {
            for language in Language::ALL {
                let files = files("acme-orders", kind, language);
                assert!(files.iter().all(|(_, text)| !text.contains("{{")), "{kind:?} {language:?}");
                assert!(files.iter().any(|(path, _)| path == "fixtures/example.json"));
            }
            assert_eq!(Kind::parse(kind.name()), Ok(kind));
        }
        assert!(Kind::parse("auth").is_err());
    }

    #[test]
    fn a_project_is_not_written_over_an_existing_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        create(dir.path(), "acme", Kind::Mapper, Language::Python).expect("created");
        assert!(dir.path().join("acme/sdk/python/portitor_sdk.py").is_file());
        let again = create(dir.path(), "acme", Kind::Mapper, Language::Python).expect_err("exists");
        assert!(again.to_string().contains("exists"), "{again}");
    }

    #[test]
    fn pinned_versions_are_the_ones_portitor_builds_with() {
        let justfile = include_str!("../../../justfile");
        for (key, version) in [
            ("componentize_py", COMPONENTIZE_PY),
            ("componentize_js_version", COMPONENTIZE_JS),
            ("typescript_version", TYPESCRIPT),
            ("jco_version", JCO),
            ("rolldown_version", ROLLDOWN),
        ] {
            assert!(justfile.contains(&format!("{key} := \"{version}\"")), "justfile's {key} is not {version}");
        }
        let workspace = include_str!("../../../Cargo.toml");
        let wit_bindgen = workspace.lines().find(|line| line.starts_with("wit-bindgen")).expect("wit-bindgen");
        assert!(RUST_SDK_MANIFEST.contains(wit_bindgen), "the SDK's wit-bindgen is not the workspace's {wit_bindgen}");
    }
}
