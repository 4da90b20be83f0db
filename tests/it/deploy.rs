//! The deployment files agree with costbot: the Kubernetes ConfigMap holds a configuration
//! that `costbot config check` accepts, the example Secret provides every variable it refers
//! to, and the Deployment mounts it where `COSTBOT_CONFIG` points. (Schema validation of the
//! manifests, hadolint, cfn-lint and systemd-analyze run in `scripts/validate-deploy.sh`.)

use std::path::Path;
use std::process::Command;

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The block scalar under `key: |` in a YAML file, de-indented.
fn block(yaml: &str, key: &str) -> String {
    let mut lines = yaml.lines().skip_while(|l| l.trim() != format!("{key}: |"));
    let header = lines.next().unwrap_or_else(|| panic!("no `{key}: |` block"));
    let outer = header.len() - header.trim_start().len();
    let body: Vec<&str> = lines.take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > outer).collect();
    let indent =
        body.iter().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    body.iter().map(|l| l.get(indent..).unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// The keys of the example Secret's `stringData`.
fn secret_keys() -> Vec<String> {
    let secret = read("deploy/k8s/secret.example.yaml");
    let data = secret.lines().skip_while(|l| l.trim() != "stringData:").skip(1);
    data.filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.to_string())).collect()
}

/// Every `{ env = "NAME" }` a configuration refers to.
fn env_references(toml: &str) -> Vec<String> {
    toml.split("env = \"").skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_string).collect()
}

#[test]
fn the_configmap_is_a_configuration_costbot_accepts_with_the_example_secret() {
    let toml = block(&read("deploy/k8s/configmap.yaml"), "costbot.toml");
    assert!(toml.contains("[[accounts]]"), "the block was found: {toml}");
    let keys = secret_keys();
    assert!(keys.contains(&"COSTBOT_DATABASE__URL".to_string()), "{keys:?}");
    for name in env_references(&toml) {
        assert!(
            keys.contains(&name),
            "the ConfigMap refers to {name}, which the example Secret does not provide ({keys:?})"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("costbot.toml"), &toml).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_costbot"));
    command.args(["config", "check"]).env("COSTBOT_CONFIG", dir.path().join("costbot.toml"));
    for key in &keys {
        command.env(key, "placeholder-from-the-example-secret");
    }
    let output = command.output().expect("run costbot");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && text.contains("configuration is valid"), "{text}");
    assert!(text.contains("store: postgres"), "the Secret's database URL wins over SQLite: {text}");
}

#[test]
fn the_deployment_mounts_the_config_where_costbot_config_points_and_runs_as_the_image_user() {
    let deployment = read("deploy/k8s/deployment.yaml");
    assert!(deployment.contains("value: /etc/costbot/costbot.toml") && deployment.contains("mountPath: /etc/costbot"));
    assert!(
        deployment.contains("name: costbot-secrets")
            && read("deploy/k8s/secret.example.yaml").contains("name: costbot-secrets")
    );
    assert!(deployment.contains("path: /healthz") && deployment.contains("path: /readyz"));
    let dockerfile = read("deploy/Dockerfile");
    assert!(dockerfile.contains("USER 10001:10001") && deployment.contains("runAsUser: 10001"));
    let kustomization = read("deploy/k8s/kustomization.yaml");
    let resources: Vec<&str> = kustomization
        .lines()
        .skip_while(|l| l.trim() != "resources:")
        .skip(1)
        .take_while(|l| l.trim_start().starts_with("- "))
        .map(|l| l.trim().trim_start_matches("- "))
        .collect();
    assert!(resources.contains(&"deployment.yaml") && resources.contains(&"poddisruptionbudget.yaml"), "{resources:?}");
    assert!(!resources.contains(&"secret.example.yaml"), "the example Secret is never applied");
}

#[test]
fn the_block_reader_keeps_nested_indentation() {
    let yaml = "data:\n  a.toml: |\n    [x]\n      y = 1\n\n    z = 2\nnext: 1\n";
    assert_eq!(block(yaml, "a.toml"), "[x]\n  y = 1\n\nz = 2");
}
