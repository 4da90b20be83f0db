//! `[waste] accounts = "organization"` against moto's AWS Organizations: an organisation of
//! the management account and three members (one closed), listed page by page, ACTIVE only;
//! each member reached through the role template with the ExternalId; waste found in all
//! three live accounts; and the members named in answers from the same list.

use std::sync::Arc;

use aws_config::Region;
use aws_sdk_ec2::types::VolumeType;
use costbot::answers::Answers;
use costbot::aws::inventory::AwsInventory;
use costbot::aws::organizations;
use costbot::config::Config;
use costbot::domain::resource::{CloudInventory, ResourceKind};
use costbot::domain::AccountId;
use costbot::store::{AccountStore, SqliteStore};

use crate::support::{Moto, EXTERNAL_ID_ENV};

const MANAGEMENT: &str = "123456789012";

fn config(endpoint: &str) -> Config {
    let toml = format!(
        "[aws]\nendpoint_url = \"{endpoint}\"\nretry_mode = \"standard\"\nmax_attempts = 2\n\
         [waste]\nregions = [\"us-east-1\"]\naccounts = \"organization\"\n\
         [waste.organization]\nrole_arn = \"arn:aws:iam::{{account}}:role/costbot-read\"\n\
         external_id = {{ env = \"{EXTERNAL_ID_ENV}\" }}\n\
         [[accounts]]\nid = \"{MANAGEMENT}\"\nname = \"payer\"\ncost_explorer = true\n"
    );
    Config::from_toml(&toml).unwrap()
}

/// An unattached volume in `account`, created through the same role costbot assumes.
async fn volume_in(config: &Config, account: &AccountId) -> String {
    let base = costbot::aws::base_config(&config.aws).await;
    let members = [organizations::Member { id: account.clone(), name: "x".into() }];
    let reach = if account.as_str() == MANAGEMENT {
        config.accounts[0].clone()
    } else {
        organizations::account_configs(config, &members).unwrap().remove(0)
    };
    let sdk = costbot::aws::account_config(&base, &reach).await.unwrap();
    let ec2 = aws_sdk_ec2::Client::new(&sdk.to_builder().region(Region::new("us-east-1")).build());
    let out = ec2.create_volume().availability_zone("us-east-1a").size(10).volume_type(VolumeType::Gp3);
    out.send().await.unwrap().volume_id.unwrap()
}

#[tokio::test]
async fn waste_is_found_in_every_active_member_of_the_organization() {
    let moto = Moto::start().await;
    let config = config(&moto.url);
    let base = costbot::aws::base_config(&config.aws).await;
    let org = aws_sdk_organizations::Client::new(&base.to_builder().region(Region::new("us-east-1")).build());
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let mut created = Vec::new();
    for name in ["dev", "staging", "closed"] {
        let out = org.create_account().email(format!("{name}@example.com")).account_name(name).send().await.unwrap();
        created.push(out.create_account_status().unwrap().account_id().unwrap().to_string());
    }
    org.close_account().account_id(&created[2]).send().await.unwrap();

    let everyone = organizations::members(&base, None).await.unwrap();
    let ids: Vec<&str> = everyone.iter().map(|m| m.id.as_str()).collect();
    let mut want = vec![MANAGEMENT, created[0].as_str(), created[1].as_str()];
    want.sort_unstable();
    assert_eq!(ids, want, "ACTIVE accounts only: the closed one is left out");
    assert_eq!(organizations::members(&base, Some(1)).await.unwrap(), everyone, "one account a page, every page");

    let account = |id: &str| AccountId::parse(id).unwrap();
    let mut volumes = Vec::new();
    for id in &want {
        volumes.push(volume_in(&config, &account(id)).await);
    }
    let aws = AwsInventory::from_config(&config).await.unwrap();
    let searched = aws.accounts(&config);
    assert_eq!(searched.iter().map(AccountId::as_str).collect::<Vec<_>>(), want);
    for (id, volume) in want.iter().zip(&volumes) {
        let found = aws.discover(&account(id), "us-east-1").await.unwrap();
        let volumes: Vec<&str> = found
            .iter()
            .filter(|r| r.reference.kind == ResourceKind::EbsVolume)
            .map(|r| r.reference.id.as_str())
            .collect();
        assert_eq!(volumes, [volume.as_str()], "account {id} sees only its own volume");
    }

    // `/cost` names accounts from the same list; the configured name of the management
    // account stays.
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    store.upsert_accounts(&organizations::named_accounts(&config, aws.members())).await.unwrap();
    let names = Answers::new(store).account_names().await.unwrap();
    assert_eq!(names.get(&created[0]).map(String::as_str), Some("dev"));
    assert_eq!(names.get(&created[1]).map(String::as_str), Some("staging"));
    assert!(!names.contains_key(&created[2]) && !names.contains_key(MANAGEMENT));
}
