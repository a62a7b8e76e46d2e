//! Checks every function a component exports for its robodev interface against the WIT
//! contract, from the component's type, before anything is instantiated.
//!
//! wasmtime's generated bindings type-check an interface's functions only when they are looked
//! up in a live instance, i.e. on the first call, where a mismatch would look like a trap. A
//! component built from an edited or stale copy of the WIT is a contract violation, refused at
//! load ([`Refusal::ExportType`]) naming the function, the type it has and the type expected.
//!
//! The contract is robodev's own `wit/` tree, compiled into this crate and parsed once.

use std::sync::LazyLock;

use robodev_core::{Interface, Refusal};
use wasmtime::Engine;
use wasmtime::component::types::{self as wt, ComponentItem};
use wit_parser::{Resolve, Type as WitType, TypeDefKind};

/// The WIT files of robodev's contract as the host checks components against them: (file
/// name, text), dependencies first. Public for tools that build components against it (the
/// `component` fuzz target's generator).
pub const CONTRACT: [(&str, &str); 11] = [
    ("types.wit", include_str!("../../../wit/types/types.wit")),
    ("host.wit", include_str!("../../../wit/host/host.wit")),
    // The frozen robodev:host 1.0.0, which the SCM 1 package includes.
    (
        "host-1.0.wit",
        include_str!("../../../wit/host-1.0/host.wit"),
    ),
    (
        "ticketing.wit",
        include_str!("../../../wit/ticketing/ticketing.wit"),
    ),
    (
        "notifications.wit",
        include_str!("../../../wit/notifications/notifications.wit"),
    ),
    (
        "approval.wit",
        include_str!("../../../wit/approval/approval.wit"),
    ),
    (
        "secrets.wit",
        include_str!("../../../wit/secrets/secrets.wit"),
    ),
    ("scm.wit", include_str!("../../../wit/scm/scm.wit")),
    ("scm-v1.wit", include_str!("../../../wit/scm-v1/scm.wit")),
    ("review.wit", include_str!("../../../wit/review/review.wit")),
    ("engine.wit", include_str!("../../../wit/engine/engine.wit")),
];

/// The longest rendering of a type put into a message.
const MAX_TYPE_TEXT: usize = 300;

static RESOLVE: LazyLock<Result<Resolve, String>> = LazyLock::new(|| {
    let mut resolve = Resolve::new();
    for (name, text) in CONTRACT {
        resolve
            .push_str(name, text)
            .map_err(|e| format!("robodev's own WIT does not parse ({name}): {e:#}"))?;
    }
    Ok(resolve)
});

/// Checks that export `export` (an instance of `component`) has every function of
/// `interface`'s WIT interface at major version `major`, each with exactly the contract's type.
pub(crate) fn check(
    engine: &Engine,
    component: &wt::Component,
    export: &str,
    interface: Interface,
    major: u32,
) -> Result<(), Refusal> {
    let resolve = match &*RESOLVE {
        Ok(r) => r,
        // Cannot happen for a build whose tests pass; never refuse a plugin for it.
        Err(e) => {
            tracing::error!("{e}");
            return Ok(());
        }
    };
    let package = format!("robodev:{}", interface.name());
    let Some(iface) = resolve.interfaces.iter().find_map(|(_, i)| {
        let pkg = &resolve.packages[i.package?];
        (format!("{}:{}", pkg.name.namespace, pkg.name.name) == package
            && pkg.name.version.as_ref().map(|v| v.major) == Some(u64::from(major))
            && i.name.as_deref() == Some(interface.wit_interface()))
        .then_some(i)
    }) else {
        return Ok(());
    };
    let Some(ComponentItem::ComponentInstance(instance)) =
        component.get_export(engine, export).map(|e| e.ty)
    else {
        return Err(Refusal::ExportType {
            export: export.to_owned(),
            function: String::new(),
            expected: "an instance exporting the interface's functions".to_owned(),
            found: "something else".to_owned(),
        });
    };
    for (name, function) in &iface.functions {
        let expected = render_wit_func(resolve, function);
        let mismatch = |found: String| Refusal::ExportType {
            export: export.to_owned(),
            function: name.clone(),
            expected: expected.clone(),
            found,
        };
        let func = match instance.get_export(engine, name).map(|e| e.ty) {
            Some(ComponentItem::ComponentFunc(func)) => func,
            Some(_) => return Err(mismatch("not a function".to_owned())),
            None => return Err(mismatch("missing".to_owned())),
        };
        let params: Vec<(&str, wt::Type)> = func.params().collect();
        let results: Vec<wt::Type> = func.results().collect();
        let same = params.len() == function.params.len()
            && params
                .iter()
                .zip(&function.params)
                .all(|((_, actual), param)| same_type(resolve, &param.ty, actual))
            && match (&function.result, results.as_slice()) {
                (None, []) => true,
                (Some(expected), [actual]) => same_type(resolve, expected, actual),
                _ => false,
            };
        if !same {
            return Err(mismatch(render_func(&params, &results)));
        }
    }
    Ok(())
}

/// Whether the component's `actual` type is the contract's `expected` type (structurally:
/// names of fields, cases, enum values and flags included; type names are not part of a
/// component's type).
fn same_type(resolve: &Resolve, expected: &WitType, actual: &wt::Type) -> bool {
    use wt::Type as A;
    let id = match expected {
        WitType::Bool => return matches!(actual, A::Bool),
        WitType::U8 => return matches!(actual, A::U8),
        WitType::U16 => return matches!(actual, A::U16),
        WitType::U32 => return matches!(actual, A::U32),
        WitType::U64 => return matches!(actual, A::U64),
        WitType::S8 => return matches!(actual, A::S8),
        WitType::S16 => return matches!(actual, A::S16),
        WitType::S32 => return matches!(actual, A::S32),
        WitType::S64 => return matches!(actual, A::S64),
        WitType::F32 => return matches!(actual, A::Float32),
        WitType::F64 => return matches!(actual, A::Float64),
        WitType::Char => return matches!(actual, A::Char),
        WitType::String => return matches!(actual, A::String),
        WitType::ErrorContext => return matches!(actual, A::ErrorContext),
        WitType::Id(id) => *id,
    };
    let same_opt = |e: &Option<WitType>, a: Option<wt::Type>| match (e, a) {
        (None, None) => true,
        (Some(e), Some(a)) => same_type(resolve, e, &a),
        _ => false,
    };
    match (&resolve.types[id].kind, actual) {
        (TypeDefKind::Type(inner), _) => same_type(resolve, inner, actual),
        (TypeDefKind::Record(r), A::Record(a)) => {
            r.fields.len() == a.fields().len()
                && r.fields
                    .iter()
                    .zip(a.fields())
                    .all(|(e, a)| e.name == a.name && same_type(resolve, &e.ty, &a.ty))
        }
        (TypeDefKind::Tuple(t), A::Tuple(a)) => {
            t.types.len() == a.types().len()
                && t.types
                    .iter()
                    .zip(a.types())
                    .all(|(e, a)| same_type(resolve, e, &a))
        }
        (TypeDefKind::Variant(v), A::Variant(a)) => {
            v.cases.len() == a.cases().len()
                && v.cases
                    .iter()
                    .zip(a.cases())
                    .all(|(e, a)| e.name == a.name && same_opt(&e.ty, a.ty))
        }
        (TypeDefKind::Enum(e), A::Enum(a)) => e.cases.iter().map(|c| c.name.as_str()).eq(a.names()),
        (TypeDefKind::Flags(f), A::Flags(a)) => {
            f.flags.iter().map(|c| c.name.as_str()).eq(a.names())
        }
        (TypeDefKind::Option(e), A::Option(a)) => same_type(resolve, e, &a.ty()),
        (TypeDefKind::Result(r), A::Result(a)) => {
            same_opt(&r.ok, a.ok()) && same_opt(&r.err, a.err())
        }
        (TypeDefKind::List(e), A::List(a)) => same_type(resolve, e, &a.ty()),
        // robodev's contract has no resources, maps, fixed lists, futures or streams.
        _ => false,
    }
}

fn shorten(mut text: String) -> String {
    if let Some((cut, _)) = text.char_indices().nth(MAX_TYPE_TEXT) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// `func(message: string, ticket: option<ticket>) -> result<_, plugin-error>`, as in the WIT.
fn render_wit_func(resolve: &Resolve, function: &wit_parser::Function) -> String {
    let params: Vec<String> = function
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, render_wit(resolve, &p.ty)))
        .collect();
    let result = function
        .result
        .as_ref()
        .map(|r| format!(" -> {}", render_wit(resolve, r)))
        .unwrap_or_default();
    shorten(format!("func({}){result}", params.join(", ")))
}

fn render_wit(resolve: &Resolve, ty: &WitType) -> String {
    let id = match ty {
        WitType::Id(id) => *id,
        other => return primitive_name(other).to_owned(),
    };
    let def = &resolve.types[id];
    if let Some(name) = &def.name {
        return name.clone();
    }
    let opt = |t: &Option<WitType>| {
        t.as_ref()
            .map_or("_".to_owned(), |t| render_wit(resolve, t))
    };
    match &def.kind {
        TypeDefKind::Option(t) => format!("option<{}>", render_wit(resolve, t)),
        TypeDefKind::List(t) => format!("list<{}>", render_wit(resolve, t)),
        TypeDefKind::Result(r) => format!("result<{}, {}>", opt(&r.ok), opt(&r.err)),
        TypeDefKind::Tuple(t) => format!(
            "tuple<{}>",
            t.types
                .iter()
                .map(|t| render_wit(resolve, t))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TypeDefKind::Type(t) => render_wit(resolve, t),
        other => other.as_str().to_owned(),
    }
}

fn primitive_name(ty: &WitType) -> &'static str {
    match ty {
        WitType::Bool => "bool",
        WitType::U8 => "u8",
        WitType::U16 => "u16",
        WitType::U32 => "u32",
        WitType::U64 => "u64",
        WitType::S8 => "s8",
        WitType::S16 => "s16",
        WitType::S32 => "s32",
        WitType::S64 => "s64",
        WitType::F32 => "f32",
        WitType::F64 => "f64",
        WitType::Char => "char",
        WitType::String => "string",
        WitType::ErrorContext => "error-context",
        WitType::Id(_) => "type",
    }
}

/// The component's function type, structurally (a component's type carries no type names).
fn render_func(params: &[(&str, wt::Type)], results: &[wt::Type]) -> String {
    let params: Vec<String> = params
        .iter()
        .map(|(n, t)| format!("{n}: {}", render(t)))
        .collect();
    let result = match results {
        [] => String::new(),
        [one] => format!(" -> {}", render(one)),
        many => format!(
            " -> ({})",
            many.iter().map(render).collect::<Vec<_>>().join(", ")
        ),
    };
    shorten(format!("func({}){result}", params.join(", ")))
}

fn render(ty: &wt::Type) -> String {
    use wt::Type as A;
    let opt = |t: Option<wt::Type>| t.map_or("_".to_owned(), |t| render(&t));
    match ty {
        A::Bool => "bool".into(),
        A::S8 => "s8".into(),
        A::U8 => "u8".into(),
        A::S16 => "s16".into(),
        A::U16 => "u16".into(),
        A::S32 => "s32".into(),
        A::U32 => "u32".into(),
        A::S64 => "s64".into(),
        A::U64 => "u64".into(),
        A::Float32 => "f32".into(),
        A::Float64 => "f64".into(),
        A::Char => "char".into(),
        A::String => "string".into(),
        A::List(l) => format!("list<{}>", render(&l.ty())),
        A::Record(r) => format!(
            "record {{ {} }}",
            r.fields()
                .map(|f| format!("{}: {}", f.name, render(&f.ty)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        A::Tuple(t) => format!(
            "tuple<{}>",
            t.types().map(|t| render(&t)).collect::<Vec<_>>().join(", ")
        ),
        A::Variant(v) => format!(
            "variant {{ {} }}",
            v.cases()
                .map(|c| match c.ty {
                    Some(t) => format!("{}({})", c.name, render(&t)),
                    None => c.name.to_owned(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        A::Enum(e) => format!("enum {{ {} }}", e.names().collect::<Vec<_>>().join(", ")),
        A::Option(o) => format!("option<{}>", render(&o.ty())),
        A::Result(r) => format!("result<{}, {}>", opt(r.ok()), opt(r.err())),
        A::Flags(f) => format!("flags {{ {} }}", f.names().collect::<Vec<_>>().join(", ")),
        A::Own(_) => "own<resource>".into(),
        A::Borrow(_) => "borrow<resource>".into(),
        A::Future(_) => "future".into(),
        A::Stream(_) => "stream".into(),
        A::ErrorContext => "error-context".into(),
        A::Map(_) => "map".into(),
        A::FixedLengthList(_) => "fixed-length-list".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_parses_and_renders_as_written() {
        let resolve = RESOLVE.as_ref().unwrap();
        let iface = resolve
            .interfaces
            .iter()
            .find(|(_, i)| i.name.as_deref() == Some("channel"))
            .unwrap()
            .1;
        let notify = &iface.functions["notify"];
        assert_eq!(
            render_wit_func(resolve, notify),
            "func(message: string, ticket: option<ticket>) -> result<_, plugin-error>"
        );
    }
}
