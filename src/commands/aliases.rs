//! Short names people use for services in `service=` filters.

/// Short names people use for services, and Cost Explorer's names for them.
pub const SERVICE_ALIASES: &[(&str, &str)] = &[
    ("ec2", "Amazon Elastic Compute Cloud - Compute"),
    ("ec2-other", "EC2 - Other"),
    ("ebs", "EC2 - Other"),
    ("rds", "Amazon Relational Database Service"),
    ("s3", "Amazon Simple Storage Service"),
    ("lambda", "AWS Lambda"),
    ("cloudfront", "Amazon CloudFront"),
    ("cloudwatch", "AmazonCloudWatch"),
    ("dynamodb", "Amazon DynamoDB"),
    ("elb", "Elastic Load Balancing"),
    ("eks", "Amazon Elastic Container Service for Kubernetes"),
    ("ecs", "Amazon Elastic Container Service"),
    ("redshift", "Amazon Redshift"),
    ("sagemaker", "Amazon SageMaker"),
    ("glue", "AWS Glue"),
    ("athena", "Amazon Athena"),
    ("kms", "AWS Key Management Service"),
    ("vpc", "Amazon Virtual Private Cloud"),
    ("elasticache", "Amazon ElastiCache"),
    ("opensearch", "Amazon OpenSearch Service"),
];

/// Expands a known alias (case-insensitively); other values pass through unchanged.
pub fn expand_service_alias(value: &str) -> String {
    let lower = value.to_lowercase();
    SERVICE_ALIASES
        .iter()
        .find(|(alias, _)| *alias == lower)
        .map_or_else(|| value.to_string(), |(_, name)| name.to_string())
}
