//! Rules that span fields or combine attributes: session keys that collide after prefix and
//! rename, generated method and constant names that collide, keys the engine would refuse, and
//! attributes that contradict the field's type.

use std::collections::HashMap;

use syn::ext::IdentExt;

use crate::ast::Schema;
use crate::attr::Errors;

/// session-core's `MAX_KEY_LEN`: longer keys are refused at run time, so refuse them here.
const MAX_KEY_LEN: usize = 1024;

/// Methods of the generated handle that are not per field.
const HANDLE_METHODS: [&str; 3] = ["load_all", "save_all", "session"];

pub(crate) fn schema(schema: &Schema<'_>, errors: &mut Errors) {
    if let Some(handle) = &schema.attrs.handle
        && handle.unraw() == schema.ident.unraw()
    {
        errors.push(
            handle.span(),
            format!(
                "the handle cannot be named `{handle}`, like the struct itself; give it another \
                 name, such as `handle = \"{handle}Handle\"`"
            ),
        );
    }
    keys(schema, errors);
    names(schema, errors);
    for field in &schema.fields {
        if field.option_inner.is_some()
            && let Some(default) = &field.attrs.default
        {
            errors.push(
                default.span(),
                format!(
                    "`default` has no effect on `{}`: an absent `Option` field already reads as \
                     `None`; remove `default` or make the field a plain type",
                    field.name
                ),
            );
        }
        if let (Some(flash), Some(_)) = (field.attrs.flash, field.attrs.renew_on_change) {
            errors.push(
                flash,
                format!(
                    "`{}` cannot be both `flash` and `renew_on_change`: reading a flash field \
                     removes it, and a login field must not vanish when read; keep one of them",
                    field.name
                ),
            );
        }
    }
}

fn keys(schema: &Schema<'_>, errors: &mut Errors) {
    let prefix = schema.prefix();
    let mut seen: HashMap<String, &str> = HashMap::new();
    for field in &schema.fields {
        let key = field.key(&prefix);
        if key.len() > MAX_KEY_LEN {
            errors.push(
                field.key_span(),
                format!(
                    "the session key of `{}` is {} bytes; keys are limited to {MAX_KEY_LEN}",
                    field.name,
                    key.len()
                ),
            );
        }
        if let Some(first) = seen.get(&key) {
            errors.push(
                field.key_span(),
                format!(
                    "session key `{key}` is used by both `{first}` and `{}`; give one of them \
                     another name with #[session(rename = \"...\")]",
                    field.name
                ),
            );
        } else {
            seen.insert(key, &field.name);
        }
    }
}

/// Each field generates a getter, `set_*`, `has_*`, `delete_*` and an upper-case constant; two
/// fields must not generate the same name (`x` and `has_x` both give `has_x`'s getter...).
fn names(schema: &Schema<'_>, errors: &mut Errors) {
    let mut methods: HashMap<String, String> = HANDLE_METHODS
        .iter()
        .map(|name| {
            (
                (*name).to_owned(),
                format!("the handle's own `{name}` method"),
            )
        })
        .collect();
    let mut consts: HashMap<String, String> = HashMap::new();
    for field in &schema.fields {
        let generated = [
            field.name.clone(),
            field.setter().to_string(),
            field.has().to_string(),
            field.deleter().to_string(),
        ];
        for method in generated {
            match methods.get(&method) {
                Some(owner) => errors.push(
                    field.ident.span(),
                    format!(
                        "field `{}` would generate the method `{method}`, which clashes with \
                         {owner}; rename the field (the session key can stay the same with \
                         #[session(rename = \"...\")])",
                        field.name
                    ),
                ),
                None => {
                    methods.insert(method, format!("an accessor of field `{}`", field.name));
                }
            }
        }
        let constant = field.const_ident().to_string();
        match consts.get(&constant) {
            Some(owner) => errors.push(
                field.ident.span(),
                format!(
                    "field `{}` would generate the key constant `{constant}`, which field \
                     `{owner}` also generates; rename one of the fields",
                    field.name
                ),
            ),
            None => {
                consts.insert(constant, field.name.clone());
            }
        }
    }
}
