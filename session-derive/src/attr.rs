//! Parsing of `#[session(...)]` on the struct and on its fields. Every problem is recorded in
//! [`Errors`] and parsing goes on, so that one build reports them all.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, ExprPath, Ident, Lit, LitStr, Path, Token};

/// The errors found so far; each is spanned on the token it is about.
#[derive(Default)]
pub(crate) struct Errors(Vec<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        self.0.push(syn::Error::new(span, message));
    }

    pub(crate) fn push_error(&mut self, error: syn::Error) {
        self.0.push(error);
    }

    /// All errors as one `compile_error!` token stream per error.
    pub(crate) fn to_compile_errors(&self) -> proc_macro2::TokenStream {
        self.0.iter().map(syn::Error::to_compile_error).collect()
    }
}

/// `#[session(...)]` on the struct.
#[derive(Default)]
pub(crate) struct ContainerAttrs {
    pub(crate) prefix: Option<LitStr>,
    pub(crate) krate: Option<Path>,
    /// The generated handle's name, spanned on the literal that gave it.
    pub(crate) handle: Option<Ident>,
}

/// What `#[session(default ...)]` asks for.
pub(crate) enum DefaultValue {
    /// `#[session(default)]`: `Default::default()`.
    Trait(Span),
    /// `#[session(default = "path")]`: a function called with no arguments.
    Function(ExprPath),
}

impl DefaultValue {
    pub(crate) fn span(&self) -> Span {
        match self {
            Self::Trait(span) => *span,
            Self::Function(path) => path.span(),
        }
    }
}

/// `#[session(...)]` on a field.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) rename: Option<LitStr>,
    pub(crate) default: Option<DefaultValue>,
    pub(crate) renew_on_change: Option<Span>,
    pub(crate) flash: Option<Span>,
}

const CONTAINER_ATTRS: &str = "`prefix = \"...\"`, `handle = \"...\"` or `crate = \"...\"`";
const FIELD_ATTRS: &str =
    "`rename = \"...\"`, `default`, `default = \"path\"`, `renew_on_change` or `flash`";

pub(crate) fn container(attrs: &[Attribute], errors: &mut Errors) -> ContainerAttrs {
    let mut out = ContainerAttrs::default();
    for attr in session_attrs(attrs) {
        let parsed = attr.parse_nested_meta(|meta| {
            // #[session(prefix = "...")]
            if meta.path.is_ident("prefix") {
                if let Some(lit) = string_value(&meta, "prefix", errors)? {
                    set_once(&mut out.prefix, lit, &meta, errors);
                }
            // #[session(handle = "AuthHandle")]
            } else if meta.path.is_ident("handle") {
                if let Some(lit) = string_value(&meta, "handle", errors)? {
                    match lit.parse::<Ident>() {
                        Ok(ident) => set_once(&mut out.handle, ident, &meta, errors),
                        Err(_) => errors.push(
                            lit.span(),
                            format!(
                                "`handle` must be a type name, such as `handle = \"AuthHandle\"`; \
                                 `{}` is not one",
                                lit.value()
                            ),
                        ),
                    }
                }
            // #[session(crate = "path")]
            } else if meta.path.is_ident("crate") {
                if let Some(lit) = string_value(&meta, "crate", errors)? {
                    match lit.parse::<Path>() {
                        Ok(path) => set_once(&mut out.krate, path, &meta, errors),
                        Err(_) => errors.push(
                            lit.span(),
                            format!(
                                "`crate` must name a path, such as `crate = \"session_axum\"`; \
                                 `{}` is not one",
                                lit.value()
                            ),
                        ),
                    }
                }
            } else if is_field_attr(&meta.path) {
                errors.push(
                    meta.path.span(),
                    format!(
                        "`{}` belongs on a field, not on the struct; the struct takes {CONTAINER_ATTRS}",
                        path_name(&meta.path)
                    ),
                );
                skip_value(meta.input)?;
            } else {
                unknown(&meta, CONTAINER_ATTRS, errors)?;
            }
            Ok(())
        });
        if let Err(error) = parsed {
            errors.push_error(error);
        }
    }
    out
}

pub(crate) fn field(attrs: &[Attribute], errors: &mut Errors) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    for attr in session_attrs(attrs) {
        let parsed = attr.parse_nested_meta(|meta| {
            // #[session(rename = "...")]
            if meta.path.is_ident("rename") {
                if let Some(lit) = string_value(&meta, "rename", errors)? {
                    if lit.value().is_empty() {
                        errors.push(lit.span(), "`rename` needs a non-empty key name");
                    } else {
                        set_once(&mut out.rename, lit, &meta, errors);
                    }
                }
            // #[session(default)] and #[session(default = "path")]
            } else if meta.path.is_ident("default") {
                let value = if meta.input.peek(Token![=]) {
                    string_value(&meta, "default", errors)?.and_then(|lit| {
                        match lit.parse::<ExprPath>() {
                            Ok(path) => Some(DefaultValue::Function(path)),
                            Err(_) => {
                                errors.push(
                                    lit.span(),
                                    format!(
                                        "`default` must name a function, such as \
                                         `default = \"default_visits\"`; `{}` is not a path",
                                        lit.value()
                                    ),
                                );
                                None
                            }
                        }
                    })
                } else {
                    Some(DefaultValue::Trait(meta.path.span()))
                };
                if let Some(value) = value {
                    set_once(&mut out.default, value, &meta, errors);
                }
            // #[session(renew_on_change)]
            } else if meta.path.is_ident("renew_on_change") {
                flag(&mut out.renew_on_change, &meta, errors)?;
            // #[session(flash)]
            } else if meta.path.is_ident("flash") {
                flag(&mut out.flash, &meta, errors)?;
            } else if ["prefix", "handle", "crate"]
                .iter()
                .any(|name| meta.path.is_ident(name))
            {
                errors.push(
                    meta.path.span(),
                    format!(
                        "`{}` belongs on the struct, not on a field; a field takes {FIELD_ATTRS}",
                        path_name(&meta.path)
                    ),
                );
                skip_value(meta.input)?;
            } else {
                unknown(&meta, FIELD_ATTRS, errors)?;
            }
            Ok(())
        });
        if let Err(error) = parsed {
            errors.push_error(error);
        }
    }
    out
}

fn session_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|attr| attr.path().is_ident("session"))
}

fn is_field_attr(path: &Path) -> bool {
    ["rename", "default", "renew_on_change", "flash"]
        .iter()
        .any(|name| path.is_ident(name))
}

fn path_name(path: &Path) -> String {
    path.segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// Records a repeated attribute instead of overwriting the first one.
/// A field attribute that is a bare word (`renew_on_change`, `flash`): records its span, or
/// that it was given a value or given twice.
fn flag(
    slot: &mut Option<Span>,
    meta: &ParseNestedMeta<'_>,
    errors: &mut Errors,
) -> syn::Result<()> {
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        let name = path_name(&meta.path);
        errors.push(
            meta.path.span(),
            format!("`{name}` takes no value: write `#[session({name})]`"),
        );
        skip_value(meta.input)?;
    } else {
        set_once(slot, meta.path.span(), meta, errors);
    }
    Ok(())
}

fn set_once<T>(slot: &mut Option<T>, value: T, meta: &ParseNestedMeta<'_>, errors: &mut Errors) {
    if slot.is_some() {
        errors.push(
            meta.path.span(),
            format!("`{}` is given more than once", path_name(&meta.path)),
        );
    } else {
        *slot = Some(value);
    }
}

/// The string literal after `name =`; a missing or non-string value is recorded and gives
/// `None`.
fn string_value(
    meta: &ParseNestedMeta<'_>,
    name: &str,
    errors: &mut Errors,
) -> syn::Result<Option<LitStr>> {
    if !meta.input.peek(Token![=]) {
        errors.push(
            meta.path.span(),
            format!("`{name}` needs a value: write `{name} = \"...\"`"),
        );
        skip_value(meta.input)?;
        return Ok(None);
    }
    let value: Expr = meta.value()?.parse()?;
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(Some(lit)),
        other => {
            errors.push(
                other.span(),
                format!("`{name}` takes a string literal: write `{name} = \"...\"`"),
            );
            Ok(None)
        }
    }
}

fn unknown(meta: &ParseNestedMeta<'_>, expected: &str, errors: &mut Errors) -> syn::Result<()> {
    errors.push(
        meta.path.span(),
        format!(
            "unknown session attribute `{}`; expected {expected}",
            path_name(&meta.path)
        ),
    );
    skip_value(meta.input)
}

/// Consumes `= value` or `(...)` after an attribute name we have already reported, so parsing
/// can go on with the next one.
fn skip_value(input: ParseStream<'_>) -> syn::Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        input.parse::<Expr>()?;
    } else if input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in input);
        content.parse::<proc_macro2::TokenStream>()?;
    }
    Ok(())
}
