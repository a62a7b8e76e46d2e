//! The protobuf files in `proto/` against the wire contracts they must keep.
//!
//! `tests/data/robodev-wire.tsv` (RoboDev's `robodev.v1` services) and
//! `tests/data/go-plugin-wire.tsv` (hashicorp/go-plugin's own services and the gRPC health
//! check) list every package, import, field, enum value and RPC that existing plugins rely on,
//! one row each. Every row must be found in the descriptors `protox` compiles from `proto/`,
//! with the same name, number, type, label, streaming and wire path. Items beyond the contract
//! are allowed (the contract may be added to, never changed).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use protox::prost_reflect::prost_types::field_descriptor_proto::{Label, Type};
use protox::prost_reflect::prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
};

/// RoboDev's `robodev.v1` contract.
const ROBODEV_TSV: &str = include_str!("../data/robodev-wire.tsv");
/// hashicorp/go-plugin's own services (package `plugin`) and the health check.
const GO_PLUGIN_TSV: &str = include_str!("../data/go-plugin-wire.tsv");

/// The rest of the standard `grpc.health.v1` protocol, which `go-plugin-wire.tsv` reduces to
/// its `Check` row: the same columns, so the same checker applies.
const HEALTH_TSV: &str = "\
file\tkind\tparent\tname\tnumber\ttype\tlabel
grpc/health/v1/health.proto\tpackage\t\tgrpc.health.v1\t\t\t
grpc/health/v1/health.proto\tservice\tgrpc.health.v1.Health\tCheck\t\tHealthCheckRequest -> HealthCheckResponse\t/grpc.health.v1.Health/Check
grpc/health/v1/health.proto\tservice\tgrpc.health.v1.Health\tWatch\t\tHealthCheckRequest -> stream HealthCheckResponse\t/grpc.health.v1.Health/Watch
grpc/health/v1/health.proto\tmessage\tHealthCheckRequest\tservice\t1\tstring\tsingular
grpc/health/v1/health.proto\tmessage\tHealthCheckResponse\tstatus\t1\tHealthCheckResponse.ServingStatus\tsingular
grpc/health/v1/health.proto\tenum\tHealthCheckResponse.ServingStatus\tUNKNOWN\t0\t\t
grpc/health/v1/health.proto\tenum\tHealthCheckResponse.ServingStatus\tSERVING\t1\t\t
grpc/health/v1/health.proto\tenum\tHealthCheckResponse.ServingStatus\tNOT_SERVING\t2\t\t
grpc/health/v1/health.proto\tenum\tHealthCheckResponse.ServingStatus\tSERVICE_UNKNOWN\t3\t\t
";

const HEADER: [&str; 7] = ["file", "kind", "parent", "name", "number", "type", "label"];

/// One row of a contract table.
#[derive(Clone, Debug)]
struct Row {
    /// Which table and line the row came from, for messages.
    origin: String,
    file: String,
    kind: String,
    parent: String,
    name: String,
    number: String,
    ty: String,
    label: String,
}

impl Row {
    /// A short name of the item the row describes.
    fn item(&self) -> String {
        match self.kind.as_str() {
            "package" => format!("package {}", self.name),
            "import" => format!("import \"{}\"", self.name),
            "message" if self.name.is_empty() => format!("message {}", self.parent),
            "message" => format!("field {}.{}", self.parent, self.name),
            "enum" => format!("enum value {}.{}", self.parent, self.name),
            "service" => format!("rpc {}.{}", self.parent, self.name),
            other => format!("{other} {}.{}", self.parent, self.name),
        }
    }
}

/// Parses a contract table. The header must be the seven known columns; a row may carry extra
/// trailing columns only if they are empty (go-plugin-wire.tsv has a stray trailing tab on
/// some rows).
fn parse_tsv(table: &str, text: &str) -> Vec<Row> {
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = match lines.next() {
        Some((_, line)) => line.trim_end_matches('\r').split('\t').collect(),
        None => panic!("{table}: empty table"),
    };
    assert_eq!(header, HEADER, "{table}: unexpected header");
    let mut rows = Vec::new();
    for (index, line) in lines {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let origin = format!("{table}:{}", index + 1);
        assert!(
            cols.len() >= 7,
            "{origin}: {} columns, want 7: {line:?}",
            cols.len()
        );
        // Some go-plugin-wire.tsv rows carry one stray tab, trailing or just before the label
        // (`Empty` has its `empty` label in an eighth column): the label is the one non-empty
        // cell from the seventh on.
        let tail: Vec<&str> = cols[6..]
            .iter()
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
            .collect();
        assert!(
            tail.len() <= 1,
            "{origin}: more than one label cell: {line:?}"
        );
        let label = tail.first().copied().unwrap_or_default().to_owned();
        let col = |i: usize| cols[i].trim().to_owned();
        rows.push(Row {
            origin,
            file: col(0),
            kind: col(1),
            parent: col(2),
            name: col(3),
            number: col(4),
            ty: col(5),
            label,
        });
    }
    rows
}

/// Where a contract file lives under `proto/`. go-plugin keeps its protos in
/// `internal/plugin/`; here they are `proto/plugin/` (same file names, same package).
fn proto_path(contract_file: &str) -> String {
    contract_file
        .strip_prefix("internal/")
        .unwrap_or(contract_file)
        .to_owned()
}

fn proto_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto")
}

/// The compiled descriptor of each file, or why it could not be compiled.
type Compiled = BTreeMap<String, Result<FileDescriptorProto, String>>;

/// Compiles each file named by `rows` on its own (so one broken file does not hide the rest),
/// with `proto/` as the only include path (protox supplies the google/protobuf well-known
/// types).
fn compile_for(rows: &[Row]) -> Compiled {
    let dir = proto_dir();
    let files: BTreeSet<String> = rows.iter().map(|r| proto_path(&r.file)).collect();
    files
        .into_iter()
        .map(|name| {
            let path = dir.join(&name);
            if !path.is_file() {
                return (name, Err(format!("{} does not exist", path.display())));
            }
            let result = protox::compile([path], [&dir])
                .map_err(|e| format!("{e:?}"))
                .and_then(|set| {
                    set.file
                        .into_iter()
                        .find(|f| f.name() == name)
                        .ok_or_else(|| format!("{name} missing from the compiled descriptor set"))
                });
            (name, result)
        })
        .collect()
}

/// The outcome of checking a table against compiled descriptors.
#[derive(Debug, Default)]
struct Report {
    /// Rows looked at (every row, unless its file failed to compile).
    checked: usize,
    mismatches: Vec<String>,
}

/// Checks every row against the compiled descriptors, collecting every mismatch.
fn check(rows: &[Row], compiled: &Compiled) -> Report {
    let mut report = Report::default();
    let mut reported_files = BTreeSet::new();
    for row in rows {
        let path = proto_path(&row.file);
        let file = match compiled.get(&path) {
            Some(Ok(file)) => file,
            Some(Err(error)) => {
                if reported_files.insert(path.clone()) {
                    report.mismatches.push(format!(
                        "{}: proto/{path} ({}): cannot be compiled: {error}",
                        row.origin, row.file
                    ));
                }
                continue;
            }
            None => {
                report.mismatches.push(format!(
                    "{}: proto/{path} ({}) was not compiled",
                    row.origin, row.file
                ));
                continue;
            }
        };
        report.checked += 1;
        if let Err((expected, found)) = check_row(row, file) {
            report.mismatches.push(format!(
                "{}: proto/{path}: {}: expected {expected}, found {found}",
                row.origin,
                row.item()
            ));
        }
    }
    report
}

/// `Err((expected, found))` when the file does not hold the row's item exactly.
fn check_row(row: &Row, file: &FileDescriptorProto) -> Result<(), (String, String)> {
    match row.kind.as_str() {
        "package" => expect_eq(&row.name, file.package()),
        "import" => {
            if file.dependency.contains(&row.name) {
                Ok(())
            } else {
                Err((
                    format!("import \"{}\"", row.name),
                    format!("imports {:?}", file.dependency),
                ))
            }
        }
        "message" => check_field(row, file),
        "enum" => check_enum_value(row, file),
        "service" => check_rpc(row, file),
        other => Err((
            "a kind of package, import, message, enum or service".to_owned(),
            format!("kind {other:?}"),
        )),
    }
}

fn expect_eq(expected: &str, found: &str) -> Result<(), (String, String)> {
    if expected == found {
        Ok(())
    } else {
        Err((format!("{expected:?}"), format!("{found:?}")))
    }
}

/// Finds a message by its name relative to the package (`ConnInfo.Knock`).
fn find_message<'a>(file: &'a FileDescriptorProto, path: &str) -> Option<&'a DescriptorProto> {
    let mut names = path.split('.');
    let first = names.next()?;
    let mut message = file.message_type.iter().find(|m| m.name() == first)?;
    for name in names {
        message = message.nested_type.iter().find(|m| m.name() == name)?;
    }
    Some(message)
}

/// Finds an enum by its name relative to the package (`StdioData.Channel`).
fn find_enum<'a>(file: &'a FileDescriptorProto, path: &str) -> Option<&'a EnumDescriptorProto> {
    match path.rsplit_once('.') {
        None => file.enum_type.iter().find(|e| e.name() == path),
        Some((outer, name)) => find_message(file, outer)?
            .enum_type
            .iter()
            .find(|e| e.name() == name),
    }
}

fn not_defined(what: &str, file: &FileDescriptorProto) -> (String, String) {
    (
        format!("{what} defined in this file"),
        format!("no such {what} in {}", file.name()),
    )
}

/// A message or enum name as the contract writes it: relative to the file's package when in
/// it, fully qualified otherwise (`Ticket`, `StdioData.Channel`, `google.protobuf.Struct`).
fn relative_type_name(file: &FileDescriptorProto, type_name: &str) -> String {
    let full = type_name.strip_prefix('.').unwrap_or(type_name);
    let package = file.package();
    match full.strip_prefix(package).and_then(|r| r.strip_prefix('.')) {
        Some(relative) if !package.is_empty() => relative.to_owned(),
        _ => full.to_owned(),
    }
}

fn scalar_name(ty: Type) -> &'static str {
    match ty {
        Type::Double => "double",
        Type::Float => "float",
        Type::Int64 => "int64",
        Type::Uint64 => "uint64",
        Type::Int32 => "int32",
        Type::Fixed64 => "fixed64",
        Type::Fixed32 => "fixed32",
        Type::Bool => "bool",
        Type::String => "string",
        Type::Group => "group",
        Type::Message => "message",
        Type::Bytes => "bytes",
        Type::Uint32 => "uint32",
        Type::Enum => "enum",
        Type::Sfixed32 => "sfixed32",
        Type::Sfixed64 => "sfixed64",
        Type::Sint32 => "sint32",
        Type::Sint64 => "sint64",
    }
}

fn type_name(file: &FileDescriptorProto, field: &FieldDescriptorProto) -> String {
    match field.r#type() {
        Type::Message | Type::Enum | Type::Group => relative_type_name(file, field.type_name()),
        scalar => scalar_name(scalar).to_owned(),
    }
}

/// A field's type and label in the contract's spelling: `(map<string,string>, map)`,
/// `(Ticket, repeated)`, `(int32, singular)`; `optional` and `oneof NAME` for proto3 optional
/// and oneof members, which the contract never calls singular.
fn field_type_and_label(
    file: &FileDescriptorProto,
    message: &DescriptorProto,
    field: &FieldDescriptorProto,
) -> (String, String) {
    if field.label() == Label::Repeated && field.r#type() == Type::Message {
        let entry_name = field.type_name().rsplit('.').next().unwrap_or_default();
        let entry = message
            .nested_type
            .iter()
            .find(|m| m.name() == entry_name && m.options.as_ref().is_some_and(|o| o.map_entry()));
        if let Some(entry) = entry {
            let part = |number: i32| {
                entry
                    .field
                    .iter()
                    .find(|f| f.number() == number)
                    .map_or_else(|| "?".to_owned(), |f| type_name(file, f))
            };
            return (format!("map<{},{}>", part(1), part(2)), "map".to_owned());
        }
    }
    let label = match field.label() {
        Label::Repeated => "repeated".to_owned(),
        Label::Required => "required".to_owned(),
        Label::Optional if field.proto3_optional() => "optional".to_owned(),
        Label::Optional => match field.oneof_index {
            Some(index) => format!(
                "oneof {}",
                message
                    .oneof_decl
                    .get(usize::try_from(index).unwrap_or(usize::MAX))
                    .map_or("?", |o| o.name())
            ),
            None => "singular".to_owned(),
        },
    };
    (type_name(file, field), label)
}

fn describe_field(
    file: &FileDescriptorProto,
    message: &DescriptorProto,
    field: &FieldDescriptorProto,
) -> String {
    let (ty, label) = field_type_and_label(file, message, field);
    format!("{} = {} ({ty}, {label})", field.name(), field.number())
}

fn check_field(row: &Row, file: &FileDescriptorProto) -> Result<(), (String, String)> {
    let message = find_message(file, &row.parent)
        .ok_or_else(|| not_defined(&format!("message {}", row.parent), file))?;
    if row.label == "empty" {
        if message.field.is_empty() {
            return Ok(());
        }
        let fields: Vec<String> = message
            .field
            .iter()
            .map(|f| describe_field(file, message, f))
            .collect();
        return Err((
            "an empty message".to_owned(),
            format!("fields [{}]", fields.join(", ")),
        ));
    }
    let expected = format!(
        "{} = {} ({}, {})",
        row.name,
        row.number,
        row.ty.replace(' ', ""),
        row.label
    );
    let Some(field) = message.field.iter().find(|f| f.name() == row.name) else {
        let same_number = message
            .field
            .iter()
            .find(|f| f.number().to_string() == row.number)
            .map_or_else(
                || "no field of that name or number".to_owned(),
                |f| {
                    format!(
                        "no field of that name; number {} is {}",
                        row.number,
                        describe_field(file, message, f)
                    )
                },
            );
        return Err((expected, same_number));
    };
    let found = describe_field(file, message, field);
    if found == expected {
        Ok(())
    } else {
        Err((expected, found))
    }
}

fn check_enum_value(row: &Row, file: &FileDescriptorProto) -> Result<(), (String, String)> {
    let found_enum = find_enum(file, &row.parent)
        .ok_or_else(|| not_defined(&format!("enum {}", row.parent), file))?;
    let expected = format!("{} = {}", row.name, row.number);
    let values: Vec<String> = found_enum
        .value
        .iter()
        .map(|v| format!("{} = {}", v.name(), v.number()))
        .collect();
    if values.contains(&expected) {
        Ok(())
    } else {
        Err((expected, format!("values [{}]", values.join(", "))))
    }
}

fn check_rpc(row: &Row, file: &FileDescriptorProto) -> Result<(), (String, String)> {
    let package = file.package();
    let service = file
        .service
        .iter()
        .find(|s| format!("{package}.{}", s.name()) == row.parent)
        .ok_or_else(|| not_defined(&format!("service {}", row.parent), file))?;
    let method = service
        .method
        .iter()
        .find(|m| m.name() == row.name)
        .ok_or_else(|| not_defined(&format!("rpc {}.{}", row.parent, row.name), file))?;
    let stream = |yes: bool| if yes { "stream " } else { "" };
    let found_signature = format!(
        "{}{} -> {}{}",
        stream(method.client_streaming()),
        relative_type_name(file, method.input_type()),
        stream(method.server_streaming()),
        relative_type_name(file, method.output_type()),
    );
    let found_path = format!("/{package}.{}/{}", service.name(), method.name());
    // The label is the wire path, optionally followed by a note in parentheses.
    let expected_path = row.label.split_whitespace().next().unwrap_or_default();
    let expected = format!(
        "{} at {expected_path}",
        row.ty.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    let found = format!("{found_signature} at {found_path}");
    if found == expected {
        Ok(())
    } else {
        Err((expected, found))
    }
}

/// Panics listing every mismatch, if any, and checks no row went unexamined.
fn assert_contract(table: &str, text: &str) {
    let rows = parse_tsv(table, text);
    assert!(!rows.is_empty(), "{table}: no rows");
    let report = check(&rows, &compile_for(&rows));
    assert!(
        report.mismatches.is_empty(),
        "proto/ does not match {table}: {} mismatch(es):\n{}",
        report.mismatches.len(),
        report.mismatches.join("\n")
    );
    assert_eq!(
        report.checked,
        rows.len(),
        "{table}: not every row was checked"
    );
}

#[test]
fn robodev_protos_match_the_wire_contract() {
    assert_contract("robodev-wire.tsv", ROBODEV_TSV);
}

#[test]
fn go_plugin_protos_match_the_wire_contract() {
    assert_contract("go-plugin-wire.tsv", GO_PLUGIN_TSV);
}

#[test]
fn health_proto_is_the_standard_grpc_health_v1() {
    assert_contract("grpc.health.v1 (standard)", HEALTH_TSV);
}

/// Each mutation of a true row must be reported, exactly once, naming the row's item.
#[test]
fn checker_reports_a_row_that_does_not_match() {
    let mut rows = parse_tsv("robodev-wire.tsv", ROBODEV_TSV);
    rows.extend(parse_tsv("go-plugin-wire.tsv", GO_PLUGIN_TSV));
    let compiled = compile_for(&rows);
    let clean = check(&rows, &compiled);
    assert!(clean.mismatches.is_empty(), "{:#?}", clean.mismatches);

    let find = |kind: &str, parent: &str, name: &str| -> Row {
        rows.iter()
            .find(|r| r.kind == kind && r.parent == parent && r.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} row {parent} {name}"))
    };
    type Mutation = (&'static str, Row, fn(&mut Row));
    let mutations: Vec<Mutation> = vec![
        (
            "wrong field number",
            find("message", "Ticket", "title"),
            |r| r.number = "9".into(),
        ),
        ("wrong field type", find("message", "Ticket", "raw"), |r| {
            r.ty = "string".into()
        }),
        (
            "repeated as singular",
            find("message", "Ticket", "labels"),
            |r| r.label = "singular".into(),
        ),
        (
            "wrong map value",
            find("message", "Task", "metadata"),
            |r| r.ty = "map<string,int32>".into(),
        ),
        ("missing field", find("message", "Ticket", "id"), |r| {
            r.name = "uuid".into()
        }),
        (
            "message in another file",
            find("message", "Ticket", "id"),
            |r| r.file = "ticketing.proto".into(),
        ),
        (
            "fields in an empty message",
            find("message", "Ticket", "id"),
            |r| r.label = "empty".into(),
        ),
        (
            "wrong nested enum type",
            find("message", "StdioData", "channel"),
            |r| r.ty = "Channel".into(),
        ),
        (
            "wrong enum value number",
            find("enum", "Severity", "SEVERITY_ERROR"),
            |r| r.number = "2".into(),
        ),
        (
            "wrong nested enum value",
            find("enum", "StdioData.Channel", "STDERR"),
            |r| r.name = "STDIN".into(),
        ),
        ("wrong package", find("package", "", "robodev.v1"), |r| {
            r.name = "robodev.v2".into()
        }),
        ("missing import", find("import", "", "common.proto"), |r| {
            r.name = "robodev/common.proto".into()
        }),
        (
            "wrong rpc response",
            find("service", "robodev.v1.SecretsBackend", "GetSecret"),
            |r| r.ty = "GetSecretRequest -> GetSecretsResponse".into(),
        ),
        (
            "missing client streaming",
            find("service", "plugin.GRPCBroker", "StartStream"),
            |r| r.ty = "ConnInfo -> stream ConnInfo".into(),
        ),
        (
            "wrong wire path",
            find("service", "robodev.v1.SCMBackend", "GetDiff"),
            |r| r.label = "/robodev.v1.ScmBackend/GetDiff".into(),
        ),
        (
            "wrong service",
            find("service", "robodev.v1.SCMBackend", "GetDiff"),
            |r| r.parent = "robodev.v1.ReviewBackend".into(),
        ),
    ];
    for (what, original, mutate) in mutations {
        let mut row = original.clone();
        mutate(&mut row);
        let report = check(std::slice::from_ref(&row), &compiled);
        assert_eq!(
            report.mismatches.len(),
            1,
            "{what}: the mutated row {row:?} was not reported: {:?}",
            report.mismatches
        );
        let message = &report.mismatches[0];
        assert!(
            message.contains(&row.item()) && message.contains("expected"),
            "{what}: the report does not name the item and what was expected: {message}"
        );
    }

    let unknown = Row {
        file: "no_such_file.proto".into(),
        ..find("package", "", "robodev.v1")
    };
    let report = check(
        std::slice::from_ref(&unknown),
        &compile_for(std::slice::from_ref(&unknown)),
    );
    assert_eq!(report.mismatches.len(), 1, "{:?}", report.mismatches);
    assert!(
        report.mismatches[0].contains("no_such_file.proto"),
        "{}",
        report.mismatches[0]
    );
}

/// The descriptor paths (as in `SourceCodeInfo`) and names of everything in a file that must
/// carry a doc comment: messages, fields, nested types, enums, enum values, services, RPCs.
fn documentable_items(file: &FileDescriptorProto) -> Vec<(Vec<i32>, String)> {
    // Field numbers of the descriptor messages, per descriptor.proto.
    const FILE_MESSAGE: i32 = 4;
    const FILE_ENUM: i32 = 5;
    const FILE_SERVICE: i32 = 6;
    const MESSAGE_FIELD: i32 = 2;
    const MESSAGE_NESTED: i32 = 3;
    const MESSAGE_ENUM: i32 = 4;
    const ENUM_VALUE: i32 = 2;
    const SERVICE_METHOD: i32 = 2;

    fn index(i: usize) -> i32 {
        i32::try_from(i).unwrap_or(i32::MAX)
    }
    fn push_enum(
        items: &mut Vec<(Vec<i32>, String)>,
        path: Vec<i32>,
        scope: &str,
        e: &EnumDescriptorProto,
    ) {
        let name = format!("{scope}{}", e.name());
        for (i, value) in e.value.iter().enumerate() {
            let mut value_path = path.clone();
            value_path.extend([ENUM_VALUE, index(i)]);
            items.push((value_path, format!("enum value {name}.{}", value.name())));
        }
        items.push((path, format!("enum {name}")));
    }
    fn push_message(
        items: &mut Vec<(Vec<i32>, String)>,
        path: Vec<i32>,
        scope: &str,
        m: &DescriptorProto,
    ) {
        if m.options.as_ref().is_some_and(|o| o.map_entry()) {
            return; // synthesised for a map field; it has no source of its own
        }
        let name = format!("{scope}{}", m.name());
        for (i, field) in m.field.iter().enumerate() {
            let mut p = path.clone();
            p.extend([MESSAGE_FIELD, index(i)]);
            items.push((p, format!("field {name}.{}", field.name())));
        }
        for (i, nested) in m.nested_type.iter().enumerate() {
            let mut p = path.clone();
            p.extend([MESSAGE_NESTED, index(i)]);
            push_message(items, p, &format!("{name}."), nested);
        }
        for (i, e) in m.enum_type.iter().enumerate() {
            let mut p = path.clone();
            p.extend([MESSAGE_ENUM, index(i)]);
            push_enum(items, p, &format!("{name}."), e);
        }
        items.push((path, format!("message {name}")));
    }

    let mut items = Vec::new();
    for (i, m) in file.message_type.iter().enumerate() {
        push_message(&mut items, vec![FILE_MESSAGE, index(i)], "", m);
    }
    for (i, e) in file.enum_type.iter().enumerate() {
        push_enum(&mut items, vec![FILE_ENUM, index(i)], "", e);
    }
    for (i, s) in file.service.iter().enumerate() {
        for (j, method) in s.method.iter().enumerate() {
            items.push((
                vec![FILE_SERVICE, index(i), SERVICE_METHOD, index(j)],
                format!("rpc {}.{}", s.name(), method.name()),
            ));
        }
        items.push((
            vec![FILE_SERVICE, index(i)],
            format!("service {}", s.name()),
        ));
    }
    items
}

/// Lists every item of the table's files that has no non-empty leading `//` comment.
fn undocumented(table: &str, text: &str) -> Vec<String> {
    let rows = parse_tsv(table, text);
    let mut missing = Vec::new();
    for (name, result) in compile_for(&rows) {
        let file = match result {
            Ok(file) => file,
            Err(error) => {
                missing.push(format!("proto/{name}: cannot be compiled: {error}"));
                continue;
            }
        };
        let comments: HashMap<&[i32], &str> = file
            .source_code_info
            .iter()
            .flat_map(|info| &info.location)
            .map(|l| (l.path.as_slice(), l.leading_comments()))
            .collect();
        let items = documentable_items(&file);
        assert!(!items.is_empty(), "proto/{name}: nothing to document");
        for (path, item) in items {
            let comment = comments.get(path.as_slice()).copied().unwrap_or_default();
            if comment.trim().is_empty() {
                missing.push(format!("proto/{name}: {item} has no leading doc comment"));
            }
        }
    }
    missing
}

#[test]
fn robodev_protos_document_every_item() {
    let missing = undocumented("robodev-wire.tsv", ROBODEV_TSV);
    assert!(missing.is_empty(), "undocumented:\n{}", missing.join("\n"));
}

#[test]
fn go_plugin_protos_document_every_item() {
    let missing = undocumented("go-plugin-wire.tsv", GO_PLUGIN_TSV);
    assert!(missing.is_empty(), "undocumented:\n{}", missing.join("\n"));
}

#[test]
fn robodev_protos_keep_the_upstream_go_package() {
    let rows = parse_tsv("robodev-wire.tsv", ROBODEV_TSV);
    for (name, result) in compile_for(&rows) {
        let file = result.unwrap_or_else(|e| panic!("proto/{name}: {e}"));
        let go_package = file
            .options
            .as_ref()
            .map(|o| o.go_package())
            .unwrap_or_default();
        assert_eq!(
            go_package, "github.com/unitaryai/robodev/proto/v1",
            "proto/{name}: go_package"
        );
        assert_eq!(file.syntax(), "proto3", "proto/{name}: syntax");
    }
}

#[test]
fn tsv_rows_with_a_stray_tab_keep_their_label() {
    let rows = parse_tsv("go-plugin-wire.tsv", GO_PLUGIN_TSV);
    let empty = rows
        .iter()
        .find(|r| r.kind == "message" && r.parent == "Empty")
        .unwrap_or_else(|| panic!("no Empty row"));
    assert_eq!(empty.label, "empty");
    let package = rows
        .iter()
        .find(|r| r.kind == "package")
        .unwrap_or_else(|| panic!("no package row"));
    assert_eq!(
        (package.name.as_str(), package.label.as_str()),
        ("plugin", "")
    );
}
