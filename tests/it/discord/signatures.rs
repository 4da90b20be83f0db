//! Ed25519: generated keys with good and tampered requests, and the Wycheproof vectors
//! through the very verifier the endpoint uses.

use serde_json::Value;

use super::{fixture, key_pair, sign};
use costbot::chat::discord::verify::SignatureVerifier;

#[test]
fn generated_keys_accept_only_the_exact_signed_request() {
    let (key, public) = key_pair();
    let verifier = SignatureVerifier::from_hex(&public).expect("a generated key is valid");
    let (timestamp, body) = ("1731000000", br#"{"type":1}"#.as_slice());
    let signature = sign(&key, timestamp, body);
    assert!(verifier.verify(&signature, timestamp, body).is_ok());

    // One changed byte of the body, the timestamp or the signature breaks it.
    assert!(verifier.verify(&signature, timestamp, br#"{"type":2}"#).is_err());
    assert!(verifier.verify(&signature, "1731000001", body).is_err());
    let mut tampered = hex::decode(&signature).unwrap();
    tampered[10] ^= 0x01;
    assert!(verifier.verify(&hex::encode(tampered), timestamp, body).is_err());
    // Garbled or truncated hex is refused, not a panic.
    assert!(verifier.verify("zz", timestamp, body).is_err());
    assert!(verifier.verify(&signature[..126], timestamp, body).is_err());
    assert!(verifier.verify("", timestamp, body).is_err());

    // Another application's key does not verify it.
    let (_, other_public) = key_pair();
    let other = SignatureVerifier::from_hex(&other_public).unwrap();
    assert!(other.verify(&signature, timestamp, body).is_err());
}

#[test]
fn bad_public_keys_are_errors_not_panics() {
    assert!(SignatureVerifier::from_hex("not hex").is_err());
    assert!(SignatureVerifier::from_hex("abcd").is_err());
    assert!(SignatureVerifier::from_hex(&"ab".repeat(33)).is_err());
}

#[test]
fn wycheproof_vectors_valid_verify_and_invalid_are_rejected() {
    let vectors: Value = serde_json::from_str(&fixture("wycheproof_ed25519_test.json")).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for group in vectors["testGroups"].as_array().unwrap() {
        let pk: [u8; 32] = hex::decode(group["publicKey"]["pk"].as_str().unwrap()).unwrap().try_into().unwrap();
        let verifier = SignatureVerifier::from_bytes(pk).expect("Wycheproof public keys are valid points");
        for case in group["tests"].as_array().unwrap() {
            let msg = hex::decode(case["msg"].as_str().unwrap()).unwrap();
            // Discord's scheme signs timestamp + body; an empty timestamp leaves the message as is.
            let accepted = verifier.verify(case["sig"].as_str().unwrap(), "", &msg).is_ok();
            match case["result"].as_str().unwrap() {
                "valid" => {
                    assert!(accepted, "tcId {} should verify", case["tcId"]);
                    valid += 1;
                }
                "invalid" => {
                    assert!(!accepted, "tcId {} ({}) should be rejected", case["tcId"], case["comment"]);
                    invalid += 1;
                }
                other => panic!("unexpected result {other}"),
            }
        }
    }
    assert_eq!((valid, invalid), (88, 63));
}
