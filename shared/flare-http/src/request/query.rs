//! Query strings of the read endpoints: every parameter optional, each given at most once, and none the endpoint
//! does not know. A repeated or unknown one is named in a 400 rather than ignored, so a typo (`sytem=vpn`)
//! never silently widens an answer.

use flare_core::{FieldError, ValidationErrors};

use crate::error::ApiError;

/// Reads `raw`, handing each parameter that is one of `known` and given for the first time to `each`, in the
/// order given; a repeated or unknown one is pushed to `errors` under its name, in its place among the others.
pub(crate) fn query_pairs(
    raw: Option<&str>,
    known: &[&str],
    errors: &mut ValidationErrors,
    mut each: impl FnMut(&str, &str, &mut ValidationErrors),
) -> Result<(), ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|e| ApiError::malformed("query", format!("is not a valid query string: {e}")))?;
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in &pairs {
        if !known.contains(&name.as_str()) {
            errors.push(name.clone(), format!("is not a parameter of this endpoint ({})", known.join(", ")));
        } else if seen.contains(&name.as_str()) {
            errors.push(name.clone(), "is given more than once");
        } else {
            seen.push(name);
            each(name, value, errors);
        }
    }
    Ok(())
}

/// The 400 for a query whose parameters cannot be read, naming each.
pub(crate) fn bad_query(errors: ValidationErrors) -> ApiError {
    ApiError::Malformed {
        message: format!(
            "invalid query: {}",
            errors.0.iter().map(FieldError::to_string).collect::<Vec<_>>().join("; ")
        ),
        fields: errors.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_and_an_unknown_parameter_are_each_named() {
        let (mut errors, mut kept) = (ValidationErrors::new(), Vec::new());
        let query = Some("days=3&days=4&sytem=vpn");
        query_pairs(query, &["days", "system"], &mut errors, |n, v, _| kept.push((n.to_owned(), v.to_owned())))
            .unwrap();
        assert_eq!(kept, [("days".to_owned(), "3".to_owned())]);
        let named: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(named, ["days", "sytem"]);
    }
}
