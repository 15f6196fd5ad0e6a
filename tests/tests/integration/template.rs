//! The SAM template declares the table the store defines: same keys, indexes, stream and TTL. The store's
//! definition (`flare_aws::schema::table_definition`) is the one source; this test keeps the template in step.

use std::collections::BTreeSet;

use yaml_rust2::{Yaml, YamlLoader};

fn template() -> Yaml {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    let text = std::fs::read_to_string(path).expect("infra/template.yaml");
    YamlLoader::load_from_str(&text).expect("the template is YAML").remove(0)
}

fn key_schema(keys: &Yaml) -> Vec<(String, String)> {
    let keys = keys.as_vec().expect("a KeySchema list");
    keys.iter()
        .map(|k| (k["AttributeName"].as_str().unwrap().to_string(), k["KeyType"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn the_template_declares_the_table_the_store_defines() {
    let def = flare_aws::schema::table_definition();
    let doc = template();
    let table = &doc["Resources"]["Table"];
    assert_eq!(table["Type"].as_str(), Some("AWS::DynamoDB::Table"));
    let props = &table["Properties"];

    assert_eq!(props["BillingMode"].as_str(), Some(def.billing_mode));
    assert_eq!(
        key_schema(&props["KeySchema"]),
        vec![(def.partition_key.to_string(), "HASH".to_string()), (def.sort_key.to_string(), "RANGE".to_string())]
    );

    let declared: BTreeSet<(String, String)> = props["AttributeDefinitions"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| (a["AttributeName"].as_str().unwrap().into(), a["AttributeType"].as_str().unwrap().into()))
        .collect();
    let defined: BTreeSet<(String, String)> =
        def.attributes.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    assert_eq!(declared, defined, "AttributeDefinitions");

    let indexes = props["GlobalSecondaryIndexes"].as_vec().unwrap();
    assert_eq!(indexes.len(), def.indexes.len(), "number of GSIs");
    for index in &def.indexes {
        let declared = indexes
            .iter()
            .find(|i| i["IndexName"].as_str() == Some(index.name))
            .unwrap_or_else(|| panic!("the template lacks GSI {}", index.name));
        assert_eq!(
            key_schema(&declared["KeySchema"]),
            vec![(index.partition_key.into(), "HASH".into()), (index.sort_key.into(), "RANGE".into())],
            "keys of GSI {}",
            index.name
        );
        assert_eq!(declared["Projection"]["ProjectionType"].as_str(), Some(index.projection), "{}", index.name);
    }

    assert_eq!(props["StreamSpecification"]["StreamViewType"].as_str(), Some(def.stream_view_type));
    assert_eq!(props["TimeToLiveSpecification"]["AttributeName"].as_str(), Some(def.ttl_attribute));
    assert_eq!(props["TimeToLiveSpecification"]["Enabled"].as_bool(), Some(true));
}
