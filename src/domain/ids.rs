//! Typed identifiers, parsed once at the boundary so the rest of the code cannot mix them up.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an identifier was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    /// AWS account ids are exactly twelve ASCII digits.
    #[error("`{0}` is not an AWS account id (expected 12 digits)")]
    AccountId(String),
    /// Service names come from Cost Explorer and must not be empty.
    #[error("a service name must not be empty")]
    EmptyService,
    /// Role ARNs look like `arn:aws:iam::123456789012:role/name`.
    #[error("`{0}` is not an IAM role ARN (expected arn:aws:iam::<12 digits>:role/<name>)")]
    RoleArn(String),
}

/// A twelve-digit AWS account id such as `123456789012`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    /// Parses an account id, accepting surrounding whitespace.
    pub fn parse(text: &str) -> Result<AccountId, IdError> {
        let trimmed = text.trim();
        if trimmed.len() == 12 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(trimmed.to_string()))
        } else {
            Err(IdError::AccountId(text.to_string()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AccountId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccountId::parse(s)
    }
}

impl TryFrom<String> for AccountId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        AccountId::parse(&value)
    }
}

impl From<AccountId> for String {
    fn from(value: AccountId) -> String {
        value.0
    }
}

/// A Cost Explorer service name such as `Amazon Elastic Compute Cloud - Compute`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServiceName(String);

impl ServiceName {
    /// Parses a service name; only emptiness is refused, because AWS adds services freely.
    pub fn parse(text: &str) -> Result<ServiceName, IdError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            Err(IdError::EmptyService)
        } else {
            Ok(ServiceName(trimmed.to_string()))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ServiceName {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        ServiceName::parse(&value)
    }
}

impl From<ServiceName> for String {
    fn from(value: ServiceName) -> String {
        value.0
    }
}

/// An IAM role ARN that costbot assumes to reach an account, e.g.
/// `arn:aws:iam::123456789012:role/costbot-read`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleArn {
    text: String,
    account: AccountId,
}

impl RoleArn {
    /// Parses a role ARN in any AWS partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub fn parse(text: &str) -> Result<RoleArn, IdError> {
        let bad = || IdError::RoleArn(text.to_string());
        let trimmed = text.trim();
        let parts: Vec<&str> = trimmed.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts.as_slice() else {
            return Err(bad());
        };
        let valid = *arn == "arn"
            && partition.starts_with("aws")
            && *service == "iam"
            && region.is_empty()
            && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty());
        if !valid {
            return Err(bad());
        }
        let account = AccountId::parse(account).map_err(|_| bad())?;
        Ok(RoleArn { text: trimmed.to_string(), account })
    }

    /// The account the role lives in.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The ARN as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for RoleArn {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        RoleArn::parse(&value)
    }
}

impl From<RoleArn> for String {
    fn from(value: RoleArn) -> String {
        value.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_twelve_digits() {
        assert_eq!(AccountId::parse(" 123456789012 ").unwrap().as_str(), "123456789012");
        for bad in ["12345678901", "1234567890123", "12345678901a", "", "１２３４５６７８９０１２"] {
            assert!(AccountId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn role_arns_name_their_account() {
        let arn = RoleArn::parse("arn:aws:iam::210987654321:role/costbot-read").unwrap();
        assert_eq!(arn.account().as_str(), "210987654321");
        let gov = RoleArn::parse("arn:aws-us-gov:iam::210987654321:role/path/costbot").unwrap();
        assert_eq!(gov.account().as_str(), "210987654321");
        for bad in [
            "arn:aws:iam::21098765432:role/x",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::210987654321:user/bob",
            "arn:aws:iam::210987654321:role/",
            "costbot-read",
        ] {
            assert!(RoleArn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn service_names_must_not_be_empty() {
        assert!(ServiceName::parse("  ").is_err());
        assert_eq!(ServiceName::parse("Amazon S3").unwrap().as_str(), "Amazon S3");
    }
}
