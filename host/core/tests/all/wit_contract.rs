//! The WIT packages in `wit/` against the proto services in `proto/` and the core method lists:
//! one name, four places (STYLE.md §2).
//!
//! `wit-parser` resolves `wit/types`, `wit/host` and the seven interface packages in dependency
//! order; `protox` compiles `proto/`. For every [`Interface`] a [`Checker`] compares:
//!
//! - the package `robodev:<name>@<version>.0.0` and its world `plugin` (exports
//!   [`Interface::wit_export`], imports the four host capabilities);
//! - the function names, in order, with [`Interface::methods`] and the proto service's RPCs;
//! - each function's parameters with the fields of the proto request message;
//! - each function's result with the proto response message, and its error with the shared
//!   `plugin-error`, whose cases are the gRPC status codes and [`ErrorCode::ALL`];
//! - a doc comment on every WIT item.
//!
//! Proto types map to WIT as: `string`/`bool`/`int32`/`int64`/`double` to
//! `string`/`bool`/`s32`/`s64`/`f64`; an enum to a WIT enum whose cases are the values without
//! their common prefix, kebab-cased; a message to a record with the same fields in the same order,
//! wrapped in `option` where it is a parameter or record field (proto3 lets it be unset);
//! `repeated T` to `list<T>`; `map<K, V>` to `list<tuple<K, V>>`. A response message becomes the
//! `ok` type: none when it is empty, its only field's type when it has one (a message there is not
//! wrapped in `option`), else a record of its fields. The one allowed difference is listed in
//! [`STRUCT_AS_JSON_TEXT`].
//!
//! Every checker collects every mismatch (file, item, expected, found), so one failure lists them
//! all; `checkers_report_broken_wit` runs them on deliberately broken WIT to show they are not
//! vacuous.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use protox::prost_reflect::{
    DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
};
use robodev_core::{ErrorCode, Interface};
use wit_parser::{
    Docs, Function, InterfaceId, PackageId, Resolve, Span, Type, TypeDefKind, TypeId, WorldId,
    WorldItem, WorldKey,
};

/// The WIT namespace of every robodev package.
const NAMESPACE: &str = "robodev";
/// The interface that defines the records and the error shared by every plugin interface.
const TYPES_INTERFACE: &str = "robodev:types/types@1.0.0";
/// What every `plugin` world imports (through `include robodev:host/imports@1.1.0`).
const HOST_IMPORTS: [&str; 4] = [
    "robodev:host/log@1.1.0",
    "robodev:host/config@1.1.0",
    "robodev:host/secrets@1.1.0",
    "robodev:host/kv@1.1.0",
];
/// Proto fields of type `google.protobuf.Struct` that WIT carries as `option<string>`, the text
/// of a JSON object: WIT has no dynamic value type. Documented on `ticket.raw` in
/// `wit/types/types.wit`; the one documented difference between the two contracts.
const STRUCT_AS_JSON_TEXT: [&str; 1] = ["robodev.v1.Ticket.raw"];
/// The gRPC status codes other than OK, in numeric order.
const GRPC_ERROR_CODES: [(i32, &str); 16] = [
    (1, "CANCELLED"),
    (2, "UNKNOWN"),
    (3, "INVALID_ARGUMENT"),
    (4, "DEADLINE_EXCEEDED"),
    (5, "NOT_FOUND"),
    (6, "ALREADY_EXISTS"),
    (7, "PERMISSION_DENIED"),
    (8, "RESOURCE_EXHAUSTED"),
    (9, "FAILED_PRECONDITION"),
    (10, "ABORTED"),
    (11, "OUT_OF_RANGE"),
    (12, "UNIMPLEMENTED"),
    (13, "INTERNAL"),
    (14, "UNAVAILABLE"),
    (15, "DATA_LOSS"),
    (16, "UNAUTHENTICATED"),
];

fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The file of a WIT package, relative to the repository root.
fn wit_file(package: &str) -> String {
    format!("wit/{package}/{package}.wit")
}

/// `ticket_id` → `ticket-id`, `PULL_REQUEST_STATE_OPEN` → `pull-request-state-open`.
fn kebab(snake: &str) -> String {
    snake.to_ascii_lowercase().replace('_', "-")
}

/// `poll-ready-tickets` → `PollReadyTickets`.
fn pascal(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

fn undocumented(docs: &Docs) -> bool {
    docs.contents.as_deref().is_none_or(|c| c.trim().is_empty())
}

/// The resolved WIT packages.
struct Wit {
    resolve: Resolve,
    /// The repository root with a trailing `/`, stripped from locations.
    root: String,
}

impl Wit {
    /// Parses every package from `wit/`.
    fn load() -> Result<Wit, String> {
        Wit::load_with(&[])
    }

    /// Parses every package from `wit/`, except that a `(package, text)` pair in `replaced` is
    /// parsed from `text` instead of the package's directory. Dependencies first: `types`,
    /// `host`, then each interface package.
    fn load_with(replaced: &[(&str, &str)]) -> Result<Wit, String> {
        let root = repo_root();
        let mut resolve = Resolve::new();
        let packages = ["types", "host"]
            .into_iter()
            .chain(Interface::ALL.map(Interface::name));
        for name in packages {
            let pushed = match replaced.iter().find(|(package, _)| *package == name) {
                Some((_, text)) => resolve.push_str(wit_file(name), text),
                None => resolve
                    .push_dir(root.join("wit").join(name))
                    .map(|(id, _)| id),
            };
            if let Err(error) = pushed {
                return Err(format!(
                    "wit/{name}: cannot be resolved: {}",
                    resolve.render_error(&error)
                ));
            }
        }
        Ok(Wit {
            resolve,
            root: format!("{}/", root.display()),
        })
    }

    /// `file:line:column` of a span, relative to the repository root.
    fn at(&self, span: Span) -> String {
        self.resolve.render_location(span).replace(&self.root, "")
    }

    /// The package `robodev:<name>@<major>.0.0`.
    fn package(&self, name: &str, major: u32) -> Option<PackageId> {
        let version = format!("{major}.0.0");
        self.resolve
            .packages
            .iter()
            .find(|(_, p)| {
                p.name.namespace == NAMESPACE
                    && p.name.name == name
                    && p.name.version.as_ref().map(ToString::to_string) == Some(version.clone())
            })
            .map(|(id, _)| id)
    }

    /// Every robodev package, as `robodev:<name>@<version>`.
    fn package_names(&self) -> BTreeSet<String> {
        self.resolve
            .packages
            .iter()
            .filter(|(_, p)| p.name.namespace == NAMESPACE)
            .map(|(_, p)| p.name.to_string())
            .collect()
    }

    /// `robodev:ticketing/backend@1.0.0`.
    fn interface_name(&self, id: InterfaceId) -> String {
        self.resolve
            .id_of(id)
            .unwrap_or_else(|| "<anonymous interface>".to_owned())
    }

    /// Follows `type a = b` and `use` aliases to the type they name.
    fn unalias(&self, mut ty: Type) -> Type {
        while let Type::Id(id) = ty {
            match self.resolve.types[id].kind {
                TypeDefKind::Type(inner) => ty = inner,
                _ => break,
            }
        }
        ty
    }

    /// The definition `ty` names, through aliases; `None` for primitive types.
    fn def(&self, ty: Type) -> Option<(TypeId, &TypeDefKind)> {
        match self.unalias(ty) {
            Type::Id(id) => Some((id, &self.resolve.types[id].kind)),
            _ => None,
        }
    }

    fn option_inner(&self, ty: Type) -> Option<Type> {
        match self.def(ty) {
            Some((_, TypeDefKind::Option(inner))) => Some(*inner),
            _ => None,
        }
    }

    fn list_element(&self, ty: Type) -> Option<Type> {
        match self.def(ty) {
            Some((_, TypeDefKind::List(element))) => Some(*element),
            _ => None,
        }
    }

    fn tuple_types(&self, ty: Type) -> Option<Vec<Type>> {
        match self.def(ty) {
            Some((_, TypeDefKind::Tuple(tuple))) => Some(tuple.types.clone()),
            _ => None,
        }
    }

    /// Whether `ty` is the type `name` defined in `robodev:types/types@1.0.0`.
    fn is_shared_type(&self, ty: Type, name: &str) -> bool {
        let Type::Id(id) = self.unalias(ty) else {
            return false;
        };
        let def = &self.resolve.types[id];
        def.name.as_deref() == Some(name)
            && match def.owner {
                wit_parser::TypeOwner::Interface(owner) => {
                    self.resolve.id_of(owner).as_deref() == Some(TYPES_INTERFACE)
                }
                _ => false,
            }
    }

    /// The interface a named type is defined in, for messages.
    fn owner_name(&self, id: TypeId) -> String {
        match self.resolve.types[id].owner {
            wit_parser::TypeOwner::Interface(owner) => self.interface_name(owner),
            wit_parser::TypeOwner::World(world) => {
                format!("world {}", self.resolve.worlds[world].name)
            }
            wit_parser::TypeOwner::None => "<no owner>".to_owned(),
        }
    }

    /// A type in WIT syntax.
    fn show(&self, ty: Type) -> String {
        let primitive = match ty {
            Type::Bool => "bool",
            Type::U8 => "u8",
            Type::U16 => "u16",
            Type::U32 => "u32",
            Type::U64 => "u64",
            Type::S8 => "s8",
            Type::S16 => "s16",
            Type::S32 => "s32",
            Type::S64 => "s64",
            Type::F32 => "f32",
            Type::F64 => "f64",
            Type::Char => "char",
            Type::String => "string",
            Type::ErrorContext => "error-context",
            Type::Id(id) => {
                let def = &self.resolve.types[id];
                if let Some(name) = &def.name {
                    return name.clone();
                }
                let opt = |t: &Option<Type>| t.map_or_else(|| "_".to_owned(), |t| self.show(t));
                return match &def.kind {
                    TypeDefKind::Option(t) => format!("option<{}>", self.show(*t)),
                    TypeDefKind::List(t) => format!("list<{}>", self.show(*t)),
                    TypeDefKind::Tuple(t) => format!(
                        "tuple<{}>",
                        t.types
                            .iter()
                            .map(|t| self.show(*t))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    TypeDefKind::Result(r) => format!("result<{}, {}>", opt(&r.ok), opt(&r.err)),
                    TypeDefKind::Type(t) => self.show(*t),
                    other => format!("<anonymous {}>", other.as_str()),
                };
            }
        };
        primitive.to_owned()
    }
}

/// The compiled `robodev.v1` protos: `common.proto` and one file per interface.
fn proto_pool() -> Result<DescriptorPool, String> {
    let dir = repo_root().join("proto");
    let files: Vec<PathBuf> = std::iter::once("common")
        .chain(Interface::ALL.map(Interface::name))
        .map(|name| dir.join(format!("{name}.proto")))
        .collect();
    let mut compiler = protox::Compiler::new([&dir]).map_err(|e| format!("proto/: {e:?}"))?;
    compiler
        .open_files(&files)
        .map_err(|e| format!("proto/: cannot be compiled: {e:?}"))?;
    Ok(compiler.descriptor_pool())
}

/// A proto type as the .proto file spells it.
fn proto_kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Double => "double".into(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
        Kind::Message(m) => m.full_name().into(),
        Kind::Enum(e) => e.full_name().into(),
    }
}

fn proto_field_type(field: &FieldDescriptor) -> String {
    match field.kind() {
        Kind::Message(entry) if field.is_map() => format!(
            "map<{}, {}>",
            proto_kind_name(&entry.map_entry_key_field().kind()),
            proto_kind_name(&entry.map_entry_value_field().kind())
        ),
        kind if field.is_list() => format!("repeated {}", proto_kind_name(&kind)),
        kind => proto_kind_name(&kind),
    }
}

/// The WIT primitive a proto scalar maps to; `None` for messages, enums and unmapped scalars.
fn wit_scalar(kind: &Kind) -> Option<Type> {
    match kind {
        Kind::String => Some(Type::String),
        Kind::Bool => Some(Type::Bool),
        Kind::Int32 => Some(Type::S32),
        Kind::Int64 => Some(Type::S64),
        Kind::Double => Some(Type::F64),
        _ => None,
    }
}

/// A proto enum's values without their common prefix (cut at an `_`), kebab-cased:
/// `PULL_REQUEST_STATE_OPEN` → `open`. Returns the prefix too.
fn enum_cases(e: &EnumDescriptor) -> (String, Vec<String>) {
    let values: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
    let mut prefix = values.first().cloned().unwrap_or_default();
    for value in &values {
        while !value.starts_with(&prefix) {
            prefix.pop();
        }
    }
    let cut = prefix.rfind('_').map_or(0, |i| i + 1);
    prefix.truncate(cut);
    let cases = values.iter().map(|v| kebab(&v[prefix.len()..])).collect();
    (prefix, cases)
}

/// The WIT expected for a proto type, for messages.
fn expected_wit(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => format!("a record of proto {}", m.full_name()),
        Kind::Enum(e) => format!("an enum of cases {:?}", enum_cases(e).1),
        other => wit_scalar(other).map_or_else(
            || format!("a WIT form of {}", proto_kind_name(other)),
            |t| match t {
                Type::String => "string".into(),
                Type::Bool => "bool".into(),
                Type::S32 => "s32".into(),
                Type::S64 => "s64".into(),
                _ => "f64".into(),
            },
        ),
    }
}

/// Which test a mismatch belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Package, world `plugin`, its export and imports.
    Package,
    /// Function names against the core methods and the proto RPCs.
    Names,
    /// Parameters against proto request fields.
    Params,
    /// Results against proto response messages, and the error type.
    Results,
    /// `plugin-error` against the gRPC status codes and `ErrorCode::ALL`.
    PluginError,
    /// Doc comments.
    Docs,
}

/// Where a proto message-typed field sits: a parameter or record field may be unset, so it is an
/// `option`; the only field of a response is the `ok` value itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Field,
    Response,
}

/// Compares the WIT packages with the proto descriptors and the core lists, collecting every
/// mismatch.
struct Checker<'a> {
    wit: &'a Wit,
    pool: &'a DescriptorPool,
    /// `(check, message)`, each message once.
    mismatches: Vec<(Check, String)>,
    /// The check the current comparison belongs to.
    current: Check,
    /// `(proto message or enum, WIT type)` pairs already compared: a shared record such as
    /// `ticket` is compared (and reported) once.
    compared: HashSet<(String, TypeId)>,
}

impl<'a> Checker<'a> {
    fn new(wit: &'a Wit, pool: &'a DescriptorPool) -> Self {
        Checker {
            wit,
            pool,
            mismatches: Vec::new(),
            current: Check::Package,
            compared: HashSet::new(),
        }
    }

    fn report(&mut self, message: String) {
        let entry = (self.current, message);
        if !self.mismatches.contains(&entry) {
            self.mismatches.push(entry);
        }
    }

    /// Runs every check.
    fn check_all(mut self) -> Vec<(Check, String)> {
        for interface in Interface::ALL {
            self.check_interface(interface);
        }
        self.check_plugin_error();
        self.check_docs();
        self.mismatches
    }

    fn check_interface(&mut self, interface: Interface) {
        let wit = self.wit;
        let resolve = &wit.resolve;
        let file = wit_file(interface.name());
        let package_name = format!("robodev:{}@{}.0.0", interface.name(), interface.version());
        self.current = Check::Package;
        let Some(package_id) = wit.package(interface.name(), interface.version()) else {
            self.report(format!(
                "{file}: expected package {package_name}, found packages {:?}",
                wit.package_names()
            ));
            return;
        };
        let package = &resolve.packages[package_id];
        let Some(&interface_id) = package.interfaces.get(interface.wit_interface()) else {
            self.report(format!(
                "{file}: package {package_name}: expected interface `{}` \
                 (Interface::wit_interface), found interfaces {:?}",
                interface.wit_interface(),
                package.interfaces.keys().collect::<Vec<_>>()
            ));
            return;
        };
        let label = wit.interface_name(interface_id);
        if label != interface.wit_export() {
            self.report(format!(
                "{file}: expected interface {} (Interface::wit_export), found {label}",
                interface.wit_export()
            ));
        }
        match package.worlds.get("plugin") {
            Some(&world) => self.check_world(interface, world, interface_id),
            None => self.report(format!(
                "{file}: package {package_name}: expected world `plugin`, found worlds {:?}",
                package.worlds.keys().collect::<Vec<_>>()
            )),
        }

        self.current = Check::Names;
        let wit_interface = &resolve.interfaces[interface_id];
        let functions: Vec<&str> = wit_interface.functions.keys().map(String::as_str).collect();
        let methods: Vec<&str> = interface.methods().iter().map(|m| m.wit).collect();
        if functions != methods {
            self.report(format!(
                "{}: {label}: functions in order: expected {methods:?} \
                 (Interface::{interface:?}.methods() in host/core/src/interface.rs), \
                 found {functions:?}",
                wit.at(wit_interface.span)
            ));
        }
        for method in interface.methods() {
            if pascal(method.wit) != method.rpc {
                self.report(format!(
                    "host/core/src/interface.rs: Interface::{interface:?} method {:?}: \
                     expected RPC {:?} (the WIT name in PascalCase), found {:?}",
                    method.wit,
                    pascal(method.wit),
                    method.rpc
                ));
            }
        }
        let proto_file = format!("proto/{}.proto", interface.name());
        let Some(service) = self.pool.get_service_by_name(interface.proto_service()) else {
            self.report(format!(
                "{proto_file}: expected service {} (Interface::proto_service), found none",
                interface.proto_service()
            ));
            return;
        };
        let rpcs: Vec<String> = service.methods().map(|m| m.name().to_owned()).collect();
        let expected_rpcs: Vec<&str> = interface.methods().iter().map(|m| m.rpc).collect();
        if rpcs != expected_rpcs {
            self.report(format!(
                "{proto_file}: service {}: RPCs in order: expected {expected_rpcs:?} \
                 (Interface::{interface:?}.methods()), found {rpcs:?}",
                service.full_name()
            ));
        }

        for method in interface.methods() {
            let function = wit_interface.functions.get(method.wit);
            let rpc = service.methods().find(|m| m.name() == method.rpc);
            // A missing function or RPC is reported above.
            let (Some(function), Some(rpc)) = (function, rpc) else {
                continue;
            };
            if method.wit == "handshake" {
                self.check_handshake(&label, function);
            } else {
                self.check_params(&label, function, &rpc);
                self.check_result(&label, function, &rpc);
            }
        }
    }

    fn check_world(&mut self, interface: Interface, world_id: WorldId, export: InterfaceId) {
        let wit = self.wit;
        let resolve = &wit.resolve;
        let world = &resolve.worlds[world_id];
        let at = format!(
            "{}: world robodev:{}/plugin@{}.0.0",
            wit.at(world.span),
            interface.name(),
            interface.version()
        );
        let describe = |key: &WorldKey, item: &WorldItem| match item {
            WorldItem::Interface { .. } => resolve.name_world_key(key),
            WorldItem::Function(f) => format!("func {}", f.name),
            WorldItem::Type { id, .. } => format!(
                "type {}",
                resolve.types[*id].name.as_deref().unwrap_or("<anonymous>")
            ),
        };
        let exports: Vec<String> = world.exports.iter().map(|(k, i)| describe(k, i)).collect();
        if exports != [interface.wit_export()] {
            self.report(format!(
                "{at}: exports: expected exactly [{:?}] (Interface::wit_export), found {exports:?}",
                interface.wit_export()
            ));
        }
        // Elaboration also imports what the exported interface `use`s (robodev:types/types).
        let mut implied = BTreeSet::new();
        let mut stack = vec![export];
        while let Some(id) = stack.pop() {
            for dep in resolve.interface_direct_deps(id) {
                if implied.insert(wit.interface_name(dep)) {
                    stack.push(dep);
                }
            }
        }
        let found: BTreeSet<String> = world.imports.iter().map(|(k, i)| describe(k, i)).collect();
        let host: BTreeSet<String> = HOST_IMPORTS.iter().map(|s| (*s).to_owned()).collect();
        let expected: BTreeSet<String> = host.union(&implied).cloned().collect();
        if found != expected {
            self.report(format!(
                "{at}: imports: expected exactly {host:?} (plus {implied:?}, used by the \
                 exported interface), found {found:?}; missing {:?}, unexpected {:?}",
                expected.difference(&found).collect::<Vec<_>>(),
                found.difference(&expected).collect::<Vec<_>>()
            ));
        }
    }

    fn function_at(&self, label: &str, function: &Function) -> String {
        format!(
            "{}: {label} function `{}`",
            self.wit.at(function.span),
            function.name
        )
    }

    /// `handshake` takes nothing and returns `plugin-info` itself: it has no proto request
    /// fields to mirror (the interface version is the package version) and cannot fail with a
    /// domain error.
    fn check_handshake(&mut self, label: &str, function: &Function) {
        self.current = Check::Params;
        let at = self.function_at(label, function);
        if !function.params.is_empty() {
            let params: Vec<&str> = function.params.iter().map(|p| p.name.as_str()).collect();
            self.report(format!("{at}: parameters: expected none, found {params:?}"));
        }
        self.current = Check::Results;
        let returns_info = function
            .result
            .is_some_and(|t| self.wit.is_shared_type(t, "plugin-info"));
        if !returns_info {
            let found = function
                .result
                .map_or_else(|| "no result".to_owned(), |t| self.wit.show(t));
            self.report(format!(
                "{at}: result: expected plugin-info from {TYPES_INTERFACE}, found {found}"
            ));
        }
    }

    fn check_params(&mut self, label: &str, function: &Function, rpc: &MethodDescriptor) {
        self.current = Check::Params;
        let at = self.function_at(label, function);
        let request = rpc.input();
        let fields: Vec<FieldDescriptor> = request.fields().collect();
        let expected: Vec<String> = fields.iter().map(|f| kebab(f.name())).collect();
        let found: Vec<&str> = function.params.iter().map(|p| p.name.as_str()).collect();
        if expected != found {
            self.report(format!(
                "{at}: parameters in order: expected {expected:?} (the fields of proto {}), \
                 found {found:?}",
                request.full_name()
            ));
        }
        for field in &fields {
            let name = kebab(field.name());
            if let Some(param) = function.params.iter().find(|p| p.name == name) {
                self.check_field(
                    &format!("{at}: parameter `{name}`"),
                    field,
                    param.ty,
                    Position::Field,
                );
            }
        }
    }

    fn check_result(&mut self, label: &str, function: &Function, rpc: &MethodDescriptor) {
        self.current = Check::Results;
        let wit = self.wit;
        let at = self.function_at(label, function);
        let response = rpc.output();
        let fields: Vec<FieldDescriptor> = response.fields().collect();
        let Some((_, TypeDefKind::Result(result))) = function.result.and_then(|t| wit.def(t))
        else {
            let found = function
                .result
                .map_or_else(|| "no result".to_owned(), |t| wit.show(t));
            self.report(format!(
                "{at}: result: expected result<_ or ok, plugin-error>, found {found}"
            ));
            return;
        };
        let names: Vec<&str> = fields.iter().map(|f| f.name()).collect();
        match (fields.as_slice(), result.ok) {
            ([], None) => {}
            ([], Some(ok)) => self.report(format!(
                "{at}: result: expected no ok type (result<_, plugin-error>) as proto {} is \
                 empty, found ok type {}",
                response.full_name(),
                wit.show(ok)
            )),
            (_, None) => self.report(format!(
                "{at}: result: expected an ok type for proto {} (fields {names:?}), found \
                 result<_, ...>",
                response.full_name()
            )),
            ([field], Some(ok)) => self.check_field(
                &format!("{at}: result ok type (proto {})", response.full_name()),
                field,
                ok,
                Position::Response,
            ),
            (_, Some(ok)) => self.check_kind(
                &format!("{at}: result ok type"),
                &Kind::Message(response.clone()),
                ok,
            ),
        }
        let error_ok = result
            .err
            .is_some_and(|t| wit.is_shared_type(t, "plugin-error"));
        if !error_ok {
            let found = result.err.map_or_else(|| "_".to_owned(), |t| wit.show(t));
            self.report(format!(
                "{at}: result error type: expected plugin-error from {TYPES_INTERFACE}, \
                 found {found}"
            ));
        }
    }

    /// Compares a proto field (with its label) with the WIT type of the parameter, record field
    /// or result that mirrors it.
    fn check_field(&mut self, at: &str, field: &FieldDescriptor, ty: Type, position: Position) {
        let wit = self.wit;
        let proto = format!("proto {} ({})", field.full_name(), proto_field_type(field));
        let kind = field.kind();
        if field.is_map() {
            let Kind::Message(entry) = &kind else {
                return;
            };
            let (key, value) = (entry.map_entry_key_field(), entry.map_entry_value_field());
            match wit.list_element(ty).and_then(|e| wit.tuple_types(e)) {
                Some(types) if types.len() == 2 => {
                    self.check_kind(&format!("{at} (map key)"), &key.kind(), types[0]);
                    self.check_kind(&format!("{at} (map value)"), &value.kind(), types[1]);
                }
                _ => self.report(format!(
                    "{at}: expected list<tuple<{}, {}>> ({proto}), found {}",
                    expected_wit(&key.kind()),
                    expected_wit(&value.kind()),
                    wit.show(ty)
                )),
            }
            return;
        }
        if field.is_list() {
            match wit.list_element(ty) {
                Some(element) => self.check_kind(&format!("{at} (list element)"), &kind, element),
                None => self.report(format!(
                    "{at}: expected list<{}> ({proto}), found {}",
                    expected_wit(&kind),
                    wit.show(ty)
                )),
            }
            return;
        }
        match &kind {
            Kind::Message(_) if STRUCT_AS_JSON_TEXT.contains(&field.full_name()) => {
                let json_text = wit
                    .option_inner(ty)
                    .is_some_and(|inner| wit.unalias(inner) == Type::String);
                if !json_text {
                    self.report(format!(
                        "{at}: expected option<string>, the JSON text of {proto} (the \
                         documented exception), found {}",
                        wit.show(ty)
                    ));
                }
            }
            Kind::Message(_) if position == Position::Field => match wit.option_inner(ty) {
                Some(inner) => self.check_kind(at, &kind, inner),
                None => self.report(format!(
                    "{at}: expected option<{}> ({proto}; a message-typed field may be unset), \
                     found {}",
                    expected_wit(&kind),
                    wit.show(ty)
                )),
            },
            _ => self.check_kind(at, &kind, ty),
        }
    }

    /// Compares one proto value type (no label) with a WIT type.
    fn check_kind(&mut self, at: &str, kind: &Kind, ty: Type) {
        let wit = self.wit;
        if let Some(expected) = wit_scalar(kind) {
            if wit.unalias(ty) != expected {
                self.report(format!(
                    "{at}: expected {} (proto {}), found {}",
                    wit.show(expected),
                    proto_kind_name(kind),
                    wit.show(ty)
                ));
            }
            return;
        }
        match kind {
            Kind::Enum(e) => self.check_enum(at, e, ty),
            Kind::Message(m) => self.check_record(at, m, ty),
            other => self.report(format!(
                "{at}: proto {} has no WIT form in this contract, found {}",
                proto_kind_name(other),
                wit.show(ty)
            )),
        }
    }

    fn check_enum(&mut self, at: &str, e: &EnumDescriptor, ty: Type) {
        let wit = self.wit;
        let (prefix, expected) = enum_cases(e);
        let Some((id, TypeDefKind::Enum(wit_enum))) = wit.def(ty) else {
            self.report(format!(
                "{at}: expected an enum of cases {expected:?} (proto enum {}), found {}",
                e.full_name(),
                wit.show(ty)
            ));
            return;
        };
        if !self.compared.insert((e.full_name().to_owned(), id)) {
            return;
        }
        let found: Vec<&str> = wit_enum.cases.iter().map(|c| c.name.as_str()).collect();
        if found != expected {
            let def = &wit.resolve.types[id];
            self.report(format!(
                "{}: enum `{}` in {}: cases in order: expected {expected:?} (the values of proto \
                 {} without {prefix:?}), found {found:?}",
                wit.at(def.span),
                wit.show(ty),
                wit.owner_name(id),
                e.full_name()
            ));
        }
    }

    fn check_record(&mut self, at: &str, message: &MessageDescriptor, ty: Type) {
        let wit = self.wit;
        let expected: Vec<String> = message.fields().map(|f| kebab(f.name())).collect();
        let Some((id, TypeDefKind::Record(record))) = wit.def(ty) else {
            self.report(format!(
                "{at}: expected a record of fields {expected:?} (proto {}), found {}",
                message.full_name(),
                wit.show(ty)
            ));
            return;
        };
        if !self.compared.insert((message.full_name().to_owned(), id)) {
            return;
        }
        let def = &wit.resolve.types[id];
        let record_at = format!(
            "{}: record `{}` in {}",
            wit.at(def.span),
            wit.show(ty),
            wit.owner_name(id)
        );
        let found: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
        if found != expected {
            self.report(format!(
                "{record_at}: fields in order: expected {expected:?} (the fields of proto {}), \
                 found {found:?}",
                message.full_name()
            ));
        }
        for field in message.fields() {
            let name = kebab(field.name());
            if let Some(wit_field) = record.fields.iter().find(|f| f.name == name) {
                self.check_field(
                    &format!("{record_at}: field `{name}`"),
                    &field,
                    wit_field.ty,
                    Position::Field,
                );
            }
        }
    }

    fn check_plugin_error(&mut self) {
        self.current = Check::PluginError;
        let wit = self.wit;
        let file = wit_file("types");
        let expected: Vec<String> = GRPC_ERROR_CODES.iter().map(|(_, n)| kebab(n)).collect();

        let core: Vec<String> = ErrorCode::ALL.iter().map(|c| kebab(c.label())).collect();
        if core != expected {
            self.report(format!(
                "host/core/src/error.rs: ErrorCode::ALL labels, kebab-cased: expected \
                 {expected:?} (gRPC codes 1 to 16), found {core:?}"
            ));
        }
        for (code, (number, name)) in ErrorCode::ALL.iter().zip(GRPC_ERROR_CODES) {
            if code.grpc_code() != number {
                self.report(format!(
                    "host/core/src/error.rs: ErrorCode::{code:?}.grpc_code(): expected {number} \
                     ({name}), found {}",
                    code.grpc_code()
                ));
            }
        }

        let Some(package) = wit.package("types", 1) else {
            self.report(format!(
                "{file}: expected package robodev:types@1.0.0, found packages {:?}",
                wit.package_names()
            ));
            return;
        };
        let Some(&types) = wit.resolve.packages[package].interfaces.get("types") else {
            self.report(format!(
                "{file}: expected interface {TYPES_INTERFACE}, found none"
            ));
            return;
        };
        let Some(&id) = wit.resolve.interfaces[types].types.get("plugin-error") else {
            self.report(format!(
                "{file}: {TYPES_INTERFACE}: expected type `plugin-error`, found none"
            ));
            return;
        };
        let def = &wit.resolve.types[id];
        let at = format!("{}: variant `plugin-error`", wit.at(def.span));
        let TypeDefKind::Variant(variant) = &def.kind else {
            self.report(format!(
                "{at}: expected a variant, found a {}",
                def.kind.as_str()
            ));
            return;
        };
        let found: Vec<&str> = variant.cases.iter().map(|c| c.name.as_str()).collect();
        if found != expected {
            self.report(format!(
                "{at}: cases in order: expected {expected:?} (gRPC status codes 1 to 16, \
                 ErrorCode::ALL), found {found:?}"
            ));
        }
        for case in &variant.cases {
            if case.ty.map(|t| wit.unalias(t)) != Some(Type::String) {
                let found = case
                    .ty
                    .map_or_else(|| "no payload".to_owned(), |t| wit.show(t));
                self.report(format!(
                    "{}: case `plugin-error.{}`: expected a string payload (the message), \
                     found {found}",
                    wit.at(case.span),
                    case.name
                ));
            }
        }
    }

    fn check_docs(&mut self) {
        self.current = Check::Docs;
        let wit = self.wit;
        let resolve = &wit.resolve;
        for (_, package) in resolve.packages.iter() {
            if package.name.namespace != NAMESPACE {
                continue;
            }
            if undocumented(&package.docs) {
                self.report(format!(
                    "{}: package {}: no doc comment",
                    wit_file(&package.name.name),
                    package.name
                ));
            }
            for &interface_id in package.interfaces.values() {
                let interface = &resolve.interfaces[interface_id];
                let label = wit.interface_name(interface_id);
                if undocumented(&interface.docs) {
                    self.report(format!(
                        "{}: interface {label}: no doc comment",
                        wit.at(interface.span)
                    ));
                }
                for (name, &type_id) in &interface.types {
                    let def = &resolve.types[type_id];
                    // A `use`d name is an alias of a type documented where it is defined.
                    if let TypeDefKind::Type(Type::Id(target)) = def.kind
                        && resolve.types[target].owner != def.owner
                    {
                        continue;
                    }
                    let kind = def.kind.as_str();
                    if undocumented(&def.docs) {
                        self.report(format!(
                            "{}: {kind} `{name}` in {label}: no doc comment",
                            wit.at(def.span)
                        ));
                    }
                    let members: Vec<(&str, &Docs, Span)> = match &def.kind {
                        TypeDefKind::Record(r) => r
                            .fields
                            .iter()
                            .map(|f| (f.name.as_str(), &f.docs, f.span))
                            .collect(),
                        TypeDefKind::Variant(v) => v
                            .cases
                            .iter()
                            .map(|c| (c.name.as_str(), &c.docs, c.span))
                            .collect(),
                        TypeDefKind::Enum(e) => e
                            .cases
                            .iter()
                            .map(|c| (c.name.as_str(), &c.docs, c.span))
                            .collect(),
                        TypeDefKind::Flags(f) => f
                            .flags
                            .iter()
                            .map(|f| (f.name.as_str(), &f.docs, f.span))
                            .collect(),
                        _ => Vec::new(),
                    };
                    for (member, docs, span) in members {
                        if undocumented(docs) {
                            self.report(format!(
                                "{}: {kind} member `{name}.{member}` in {label}: no doc comment",
                                wit.at(span)
                            ));
                        }
                    }
                }
                for function in interface.functions.values() {
                    if undocumented(&function.docs) {
                        self.report(format!(
                            "{}: function `{}` in {label}: no doc comment",
                            wit.at(function.span),
                            function.name
                        ));
                    }
                }
            }
            for &world_id in package.worlds.values() {
                let world = &resolve.worlds[world_id];
                if undocumented(&world.docs) {
                    self.report(format!(
                        "{}: world `{}` in {}: no doc comment",
                        wit.at(world.span),
                        world.name,
                        package.name
                    ));
                }
            }
        }
    }
}

/// Every mismatch between the repository's `wit/`, `proto/` and core lists, computed once.
fn repo_mismatches() -> &'static [(Check, String)] {
    static MISMATCHES: OnceLock<Vec<(Check, String)>> = OnceLock::new();
    MISMATCHES.get_or_init(|| {
        let wit = Wit::load().unwrap_or_else(|e| panic!("{e}"));
        let pool = proto_pool().unwrap_or_else(|e| panic!("{e}"));
        Checker::new(&wit, &pool).check_all()
    })
}

fn assert_no_mismatch(check: Check) {
    let found: Vec<&str> = repo_mismatches()
        .iter()
        .filter(|(c, _)| *c == check)
        .map(|(_, m)| m.as_str())
        .collect();
    assert!(
        found.is_empty(),
        "{} {check:?} mismatch(es):\n{}",
        found.len(),
        found.join("\n")
    );
}

/// The Rust component SDK (`sdk/rust`) carries its own copy of `wit/` so that a plugin project
/// anywhere builds against it: the copy must be the current contract, file for file.
#[test]
fn the_rust_sdk_carries_the_current_wit() {
    let root = repo_root();
    let packages = ["types", "host"]
        .into_iter()
        .chain(Interface::ALL.map(Interface::name));
    let mut stale = Vec::new();
    for name in packages {
        let file = wit_file(name);
        let ours = std::fs::read_to_string(root.join(&file)).unwrap();
        let copy = root.join("sdk/rust").join(&file);
        if std::fs::read_to_string(&copy).ok().as_deref() != Some(ours.as_str()) {
            stale.push(format!("sdk/rust/{file}"));
        }
    }
    let copied = std::fs::read_dir(root.join("sdk/rust/wit"))
        .unwrap()
        .count();
    assert!(
        stale.is_empty() && copied == 2 + Interface::ALL.len(),
        "sdk/rust/wit is not a copy of wit/ (stale or missing: {stale:?}; {copied} packages): \
         run `for p in types host {}; do cp wit/$p/*.wit sdk/rust/wit/$p/; done`",
        Interface::ALL.map(Interface::name).join(" ")
    );
}

#[test]
fn wit_packages_resolve_in_dependency_order() {
    let wit = Wit::load().unwrap_or_else(|e| panic!("{e}"));
    let expected: BTreeSet<String> = [
        "robodev:types@1.0.0".to_owned(),
        "robodev:host@1.1.0".into(),
    ]
    .into_iter()
    .chain(Interface::ALL.map(|i| format!("robodev:{}@{}.0.0", i.name(), i.version())))
    .collect();
    assert_eq!(wit.package_names(), expected);
}

#[test]
fn every_package_exports_its_interface_from_world_plugin() {
    assert_no_mismatch(Check::Package);
}

#[test]
fn wit_functions_match_core_methods_and_proto_rpcs() {
    assert_no_mismatch(Check::Names);
}

#[test]
fn wit_parameters_match_proto_request_fields() {
    assert_no_mismatch(Check::Params);
}

#[test]
fn wit_results_match_proto_response_messages() {
    assert_no_mismatch(Check::Results);
}

#[test]
fn plugin_error_cases_are_the_grpc_status_codes() {
    assert_no_mismatch(Check::PluginError);
}

#[test]
fn every_wit_item_has_a_doc_comment() {
    assert_no_mismatch(Check::Docs);
}

/// The names of the `async fn`s of `pub trait Backend` in a core module.
fn trait_methods(source: &str) -> Option<Vec<String>> {
    let start = source.find("pub trait Backend")?;
    let body = &source[start..];
    let body = &body[..body.find("\n}")?];
    Some(
        body.split("async fn ")
            .skip(1)
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect()
            })
            .collect(),
    )
}

/// The `"wit-name" => trait_method` arms of `AnyBackend::call_json` for one variant.
fn dispatch_arms(source: &str, variant: &str) -> Option<Vec<(String, String)>> {
    let start = source.find(&format!("AnyBackend::{variant}(b) => dispatch!(b;"))?;
    let body = &source[start..];
    let body = &body[body.find(';')? + 1..];
    let body = &body[..body.find(')')?];
    Some(
        body.split(',')
            .filter_map(|arm| {
                let (name, call) = arm.split_once("=>")?;
                Some((
                    name.trim().trim_matches('"').to_owned(),
                    call.trim().to_owned(),
                ))
            })
            .collect(),
    )
}

#[test]
fn core_traits_and_dispatch_use_the_method_names() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let read = |name: &str| {
        std::fs::read_to_string(src.join(name))
            .unwrap_or_else(|e| panic!("host/core/src/{name}: {e}"))
    };
    let dispatch = read("dispatch.rs");
    let mut mismatches = Vec::new();
    for interface in Interface::ALL {
        let file = format!("{}.rs", interface.name());
        let expected: Vec<String> = interface
            .methods()
            .iter()
            .map(|m| m.wit.replace('-', "_"))
            .collect();
        match trait_methods(&read(&file)) {
            Some(found) if found == expected => {}
            found => mismatches.push(format!(
                "host/core/src/{file}: trait Backend methods in order: expected {expected:?} \
                 (Interface::{interface:?}.methods(), snake_case), found {found:?}"
            )),
        }
        let expected: Vec<(String, String)> = interface
            .methods()
            .iter()
            .filter(|m| m.wit != "handshake")
            .map(|m| (m.wit.to_owned(), m.wit.replace('-', "_")))
            .collect();
        match dispatch_arms(&dispatch, &format!("{interface:?}")) {
            Some(found) if found == expected => {}
            found => mismatches.push(format!(
                "host/core/src/dispatch.rs: AnyBackend::{interface:?} arms of call_json: \
                 expected {expected:?} (every method but handshake, WIT name => trait method), \
                 found {found:?}"
            )),
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn checkers_report_broken_wit() {
    let pool = proto_pool().unwrap_or_else(|e| panic!("{e}"));
    let baseline = repo_mismatches();
    let read = |package: &str| {
        std::fs::read_to_string(repo_root().join(wit_file(package)))
            .unwrap_or_else(|e| panic!("{}: {e}", wit_file(package)))
    };
    let check = |replaced: &[(&str, &str)]| {
        let wit = Wit::load_with(replaced).unwrap_or_else(|e| panic!("{e}"));
        Checker::new(&wit, &pool).check_all()
    };

    // Parsing a package from its text instead of its directory changes nothing, so every
    // mismatch a mutation adds is the mutation's.
    let ticketing = read("ticketing");
    assert_eq!(check(&[("ticketing", &ticketing)]), baseline);

    // (what, package, text to replace, replacement, a mismatch must contain this)
    let mutations: [(&str, &str, &str, &str, &str); 14] = [
        (
            "renamed function",
            "ticketing",
            "mark-failed: func",
            "mark-failure: func",
            "\"mark-failure\"",
        ),
        (
            "missing parameter",
            "ticketing",
            "mark-failed: func(ticket-id: string, reason: string)",
            "mark-failed: func(ticket-id: string)",
            "parameters in order: expected [\"ticket-id\", \"reason\"]",
        ),
        (
            "swapped parameters",
            "scm",
            "func(repo-url: string, branch-name: string, base-ref: string)",
            "func(branch-name: string, repo-url: string, base-ref: string)",
            "function `create-branch`: parameters in order",
        ),
        (
            "wrong scalar type",
            "ticketing",
            "max-results: s32",
            "max-results: s64",
            "parameter `max-results`: expected s32 (proto int32), found s64",
        ),
        (
            "message parameter not optional",
            "ticketing",
            "%result: option<task-result>",
            "%result: task-result",
            "parameter `result`: expected option<",
        ),
        (
            "ok type for an empty response",
            "ticketing",
            "mark-in-progress: func(ticket-id: string) -> result<_, plugin-error>",
            "mark-in-progress: func(ticket-id: string) -> result<string, plugin-error>",
            "expected no ok type",
        ),
        (
            "wrong error type",
            "approval",
            "cancel-pending: func(task-run-id: string) -> result<_, plugin-error>",
            "cancel-pending: func(task-run-id: string) -> result<_, string>",
            "function `cancel-pending`: result error type: expected plugin-error",
        ),
        (
            "renamed record field",
            "types",
            "repo-url: string,\n        /// Web URL",
            "repository-url: string,\n        /// Web URL",
            "\"repository-url\"",
        ),
        (
            "nested record field type",
            "engine",
            "read-only: bool,",
            "read-only: string,",
            "field `read-only`: expected bool (proto bool), found string",
        ),
        (
            "renamed enum case",
            "scm",
            "        merged,\n",
            "        merge,\n",
            "\"merge\"",
        ),
        (
            "missing error case",
            "types",
            "data-loss(string),",
            "",
            "variant `plugin-error`: cases in order",
        ),
        (
            "missing doc comment",
            "ticketing",
            "    /// Post a comment (markdown if the tracker supports it) on the ticket.\n",
            "",
            "function `add-comment` in robodev:ticketing/backend@1.0.0: no doc comment",
        ),
        (
            "missing host imports",
            "ticketing",
            "include robodev:host/imports@1.1.0;",
            "import robodev:host/log@1.1.0;",
            "missing [\"robodev:host/config@1.1.0\", \"robodev:host/kv@1.1.0\"",
        ),
        (
            "wrong export",
            "notifications",
            "    export channel;",
            "    import channel;",
            "exports: expected exactly [\"robodev:notifications/channel@1.0.0\"]",
        ),
    ];
    for (what, package, from, to, expected) in mutations {
        let original = read(package);
        assert!(
            original.contains(from),
            "{what}: {from:?} is not in {}; update this mutation",
            wit_file(package)
        );
        let broken = original.replacen(from, to, 1);
        let added: Vec<String> = check(&[(package, &broken)])
            .into_iter()
            .filter(|m| !baseline.contains(m))
            .map(|(_, m)| m)
            .collect();
        assert!(
            added.iter().any(|m| m.contains(expected)),
            "{what}: no new mismatch contains {expected:?}; new mismatches:\n{}",
            added.join("\n")
        );
    }
}
