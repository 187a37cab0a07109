//! Checks JSON values against the schemas of an OpenAPI 3.0 document: `$ref`, `allOf`, `nullable`, `type`, `enum`,
//! `required`, `properties`, `additionalProperties: false`, `items`, `minimum`/`maximum` — the subset the diagnostics
//! API's document uses. Returns every mismatch with its JSON path.

use serde_json::Value;

pub struct OpenApi {
    doc: Value,
}

impl OpenApi {
    pub fn new(doc: Value) -> Self {
        Self { doc }
    }

    /// Validates `body` against the response schema of `path`/`method`/`status`.
    pub fn check_response(&self, path: &str, method: &str, status: u16, body: &Value) -> Result<(), Vec<String>> {
        let schema = self
            .doc
            .pointer(&format!(
                "/paths/{}/{method}/responses/{status}/content/application~1json/schema",
                path.replace('~', "~0").replace('/', "~1")
            ))
            .ok_or_else(|| vec![format!("the document has no {method} {path} {status} response")])?;
        let mut errors = Vec::new();
        self.check(schema, body, "$", &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        {
            Some(pointer) => self.doc.pointer(pointer).unwrap_or(&Value::Null),
            None => schema,
        }
    }

    fn check(&self, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if v.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            all.iter().for_each(|s| self.check(s, v, at, errors));
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(v) {
                errors.push(format!("{at}: {v} is not one of {allowed:?}"));
            }
        }
        let ty = schema.get("type").and_then(Value::as_str);
        let ok = match ty {
            None => true,
            Some("object") => v.is_object(),
            Some("array") => v.is_array(),
            Some("string") => v.is_string(),
            Some("integer") => v.is_i64() || v.is_u64(),
            Some("number") => v.is_number(),
            Some("boolean") => v.is_boolean(),
            Some(other) => {
                errors.push(format!("{at}: unsupported schema type {other}"));
                true
            }
        };
        if !ok {
            errors.push(format!("{at}: expected {}, got {v}", ty.unwrap_or_default()));
            return;
        }
        if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64()) {
            if n < min {
                errors.push(format!("{at}: {n} < minimum {min}"));
            }
        }
        if let (Some(max), Some(n)) = (schema.get("maximum").and_then(Value::as_f64), v.as_f64()) {
            if n > max {
                errors.push(format!("{at}: {n} > maximum {max}"));
            }
        }
        if let Some(obj) = v.as_object() {
            let props = schema.get("properties").and_then(Value::as_object);
            for r in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !obj.contains_key(r) {
                    errors.push(format!("{at}: missing required {r}"));
                }
            }
            for (k, val) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => self.check(s, val, &format!("{at}.{k}"), errors),
                    None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        errors.push(format!("{at}: unexpected property {k}"))
                    }
                    None => {}
                }
            }
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
            for (i, item) in arr.iter().enumerate() {
                self.check(items, item, &format!("{at}[{i}]"), errors);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_what_does_not_match() {
        let api = OpenApi::new(json!({
            "paths": { "/x": { "get": { "responses": { "200": { "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/T" } } } } } } } },
            "components": { "schemas": { "T": { "type": "object", "required": ["a"], "additionalProperties": false,
                "properties": { "a": { "type": "integer", "minimum": 1 }, "b": { "type": "string", "nullable": true, "enum": ["x", null] } } } } }
        }));
        assert!(api
            .check_response("/x", "get", 200, &json!({ "a": 2, "b": null }))
            .is_ok());
        assert!(api
            .check_response("/x", "get", 200, &json!({ "a": 2, "b": "x" }))
            .is_ok());
        let errors = api
            .check_response("/x", "get", 200, &json!({ "a": 0, "b": "y", "c": 1 }))
            .unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(api.check_response("/x", "get", 200, &json!({})).is_err());
        assert!(api.check_response("/x", "get", 404, &json!({})).is_err());
    }
}
