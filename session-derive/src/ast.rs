//! The derive input read into our own types: a struct with named fields, each field with its
//! session key and attributes. Unsupported shapes are recorded as errors.

use proc_macro2::Span;
use quote::format_ident;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{
    Attribute, Data, DeriveInput, Fields, GenericArgument, Ident, Path, PathArguments, Type,
    Visibility,
};

use crate::attr::{self, ContainerAttrs, Errors, FieldAttrs};

/// A struct deriving `SessionSchema`.
pub(crate) struct Schema<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) attrs: ContainerAttrs,
    pub(crate) fields: Vec<Field<'a>>,
}

/// One field: its accessor names, its session key and the type its key holds.
pub(crate) struct Field<'a> {
    /// The field as written, possibly a raw identifier (`r#type`).
    pub(crate) ident: &'a Ident,
    /// The field's name without `r#`, from which accessor names are made.
    pub(crate) name: String,
    pub(crate) ty: &'a Type,
    /// `T` when the field is declared `Option<T>`: the key holds `T`, the getter returns
    /// `Option<T>` without wrapping it twice.
    pub(crate) option_inner: Option<&'a Type>,
    pub(crate) attrs: FieldAttrs,
    pub(crate) docs: Vec<&'a Attribute>,
}

impl Field<'_> {
    /// The type stored under the field's key.
    pub(crate) fn value_ty(&self) -> &Type {
        self.option_inner.unwrap_or(self.ty)
    }

    /// The session key: the prefix, then the `rename` or the field name.
    pub(crate) fn key(&self, prefix: &str) -> String {
        let own = self
            .attrs
            .rename
            .as_ref()
            .map_or_else(|| self.name.clone(), |lit| lit.value());
        format!("{prefix}{own}")
    }

    /// Where to point errors about the key: the `rename` literal if any, else the field.
    pub(crate) fn key_span(&self) -> Span {
        self.attrs
            .rename
            .as_ref()
            .map_or_else(|| self.ident.span(), |lit| lit.span())
    }

    pub(crate) fn const_ident(&self) -> Ident {
        format_ident!("{}", self.name.to_uppercase(), span = self.ident.span())
    }

    pub(crate) fn setter(&self) -> Ident {
        format_ident!("set_{}", self.name, span = self.ident.span())
    }

    pub(crate) fn has(&self) -> Ident {
        format_ident!("has_{}", self.name, span = self.ident.span())
    }

    pub(crate) fn updater(&self) -> Ident {
        format_ident!("update_{}", self.name, span = self.ident.span())
    }

    pub(crate) fn deleter(&self) -> Ident {
        format_ident!("delete_{}", self.name, span = self.ident.span())
    }
}

impl<'a> Schema<'a> {
    /// Reads `input`, recording every unsupported shape and attribute problem in `errors`.
    /// Returns `None` only when there are no fields to work with at all.
    pub(crate) fn from_input(input: &'a DeriveInput, errors: &mut Errors) -> Option<Self> {
        let attrs = attr::container(&input.attrs, errors);
        if !input.generics.params.is_empty() {
            errors.push(
                input.generics.span(),
                "#[derive(SessionSchema)] does not support generic parameters: a session schema \
                 names concrete types, so write the struct without them",
            );
        }
        if let Some(clause) = &input.generics.where_clause {
            errors.push(
                clause.where_token.span,
                "#[derive(SessionSchema)] does not support `where` clauses",
            );
        }
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named,
                Fields::Unnamed(fields) => {
                    errors.push(
                        fields.span(),
                        "#[derive(SessionSchema)] needs named fields, because each field name is \
                         a session key; tuple structs are not supported",
                    );
                    return None;
                }
                Fields::Unit => {
                    errors.push(
                        input.ident.span(),
                        "#[derive(SessionSchema)] needs a struct with named fields; a unit struct \
                         has no session keys",
                    );
                    return None;
                }
            },
            Data::Enum(data) => {
                errors.push(
                    data.enum_token.span,
                    "#[derive(SessionSchema)] works on structs with named fields, not enums; \
                     store the enum as the type of a field instead",
                );
                return None;
            }
            Data::Union(data) => {
                errors.push(
                    data.union_token.span,
                    "#[derive(SessionSchema)] works on structs with named fields, not unions",
                );
                return None;
            }
        };
        let fields = named
            .named
            .iter()
            .filter_map(|field| {
                let ident = field.ident.as_ref()?;
                Some(Field {
                    ident,
                    name: ident.unraw().to_string(),
                    ty: &field.ty,
                    option_inner: option_inner(&field.ty),
                    attrs: attr::field(&field.attrs, errors),
                    docs: field
                        .attrs
                        .iter()
                        .filter(|attr| attr.path().is_ident("doc"))
                        .collect(),
                })
            })
            .collect();
        Some(Schema {
            ident: &input.ident,
            vis: &input.vis,
            attrs,
            fields,
        })
    }

    pub(crate) fn prefix(&self) -> String {
        self.attrs
            .prefix
            .as_ref()
            .map(syn::LitStr::value)
            .unwrap_or_default()
    }

    /// The generated handle type: `#[session(handle = "...")]`, else the struct's name with
    /// `Session` appended.
    pub(crate) fn handle(&self) -> Ident {
        handle_name(self.ident, &self.attrs)
    }
}

/// The handle's name for the struct `ident` with container attributes `attrs`. A `handle` equal
/// to the struct's own name (an error `check` reports) is ignored, so that the error is the only
/// one.
pub(crate) fn handle_name(ident: &Ident, attrs: &ContainerAttrs) -> Ident {
    match &attrs.handle {
        Some(handle) if handle.unraw() != ident.unraw() => handle.clone(),
        _ => format_ident!("{}Session", ident.unraw(), span = ident.span()),
    }
}

/// `T` if `ty` is written `Option<T>` (also `std::option::Option<T>` or
/// `core::option::Option<T>`).
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() || !is_option_path(&path.path) {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &path.path.segments.last()?.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

fn is_option_path(path: &Path) -> bool {
    let names: Vec<String> = path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    matches!(
        names
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        ["Option"] | ["std" | "core", "option", "Option"]
    )
}
