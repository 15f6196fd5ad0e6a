//! People and API keys on DynamoDB: a user is `USER#<name>`, an API key is `KEY#<sha256 of its token>` (the
//! lookup every authenticated request makes), and keys are listed, or found by public id, through the
//! `listing` index.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use flare_core::AccessStore;
use flare_core::{ApiKey, ApiKeyHash, StoreError, User, Username};
use time::OffsetDateTime;

use crate::items::{self, Item};
use crate::keys;
use crate::schema::{LISTING, LISTING_PK, LISTING_SK, PK, SK};
use crate::store::DynamoStore;

impl DynamoStore {
    /// Writes an item that must not exist yet; `what` names it in the error when it does.
    pub(crate) async fn put_new(&self, item: Item, what: impl FnOnce() -> String) -> Result<(), StoreError> {
        let sent = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {
                Err(StoreError::AlreadyExists { what: what() })
            }
            Err(e) => Err(StoreError::unavailable(e)),
        }
    }
}

#[async_trait]
impl AccessStore for DynamoStore {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        self.put_new(items::user_item(user)?, || format!("user {}", user.username.as_str())).await
    }

    async fn get_user(&self, username: &Username) -> Result<Option<User>, StoreError> {
        self.get_item(items::key(keys::user_pk(username), keys::META))
            .await?
            .map(|item| items::decode(&item))
            .transpose()
    }

    async fn update_user(&self, user: &User) -> Result<bool, StoreError> {
        let sent = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(items::user_item(user)?))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {
                Ok(false)
            }
            Err(e) => Err(StoreError::unavailable(e)),
        }
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.put_new(items::api_key_item(key)?, || format!("API key {}", key.id)).await
    }

    async fn find_api_key(&self, hash: &ApiKeyHash) -> Result<Option<ApiKey>, StoreError> {
        let key = items::key(keys::api_key_pk(hash.as_str()), keys::META);
        self.get_item(key).await?.map(|item| items::decode(&item)).transpose()
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.listing(keys::API_KEYS_LISTING).await?.iter().map(items::decode).collect()
    }

    async fn revoke_api_key(&self, id: &str, at: OffsetDateTime) -> Result<bool, StoreError> {
        let query = self
            .query()
            .index_name(LISTING)
            .key_condition_expression("#p = :p AND #s = :id")
            .expression_attribute_names("#p", LISTING_PK)
            .expression_attribute_names("#s", LISTING_SK)
            .expression_attribute_values(":p", AttributeValue::S(keys::API_KEYS_LISTING.into()))
            .expression_attribute_values(":id", AttributeValue::S(id.into()));
        let (found, _) = self.query_all(query).await?;
        let Some(listed) = found.first() else {
            return Ok(false);
        };
        // The index is eventually consistent; the base item is the truth.
        let key: Item = [PK, SK].iter().filter_map(|a| Some((a.to_string(), listed.get(*a)?.clone()))).collect();
        let Some(item) = self.get_item(key.clone()).await? else {
            return Ok(false);
        };
        let mut api_key: ApiKey = items::decode(&item)?;
        if api_key.revoked_at.is_some() {
            return Ok(true);
        }
        api_key.revoked_at = Some(at);
        let revoked = items::api_key_item(&api_key)?;
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression("SET #doc = :doc, #r = :r")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#r)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#doc", items::DOC)
            .expression_attribute_names("#r", items::REVOKED_AT)
            .set_expression_attribute_values(Some(
                [(":doc", items::DOC), (":r", items::REVOKED_AT)]
                    .into_iter()
                    .filter_map(|(placeholder, attr)| Some((placeholder.to_string(), revoked.get(attr)?.clone())))
                    .collect(),
            ))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            // Someone revoked it first; their time stands.
            Err(e) if matches!(e.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => {
                Ok(true)
            }
            Err(e) => Err(StoreError::unavailable(e)),
        }
    }
}
