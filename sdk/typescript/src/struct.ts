// google.protobuf.Struct <-> plain JSON objects (ticket `raw`, plugin config, ...).
import type { Struct, Struct__Output } from "./generated/google/protobuf/Struct";
import type { Value, Value__Output } from "./generated/google/protobuf/Value";

/** JSON that a Struct can hold. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A Struct of a plain object. */
export function toStruct(object: { [key: string]: Json }): Struct {
  const fields: { [key: string]: Value } = {};
  for (const [key, value] of Object.entries(object)) fields[key] = toValue(value);
  return { fields };
}

/** A Value of plain JSON. */
export function toValue(value: Json): Value {
  if (value === null || value === undefined) return { nullValue: "NULL_VALUE" };
  if (typeof value === "boolean") return { boolValue: value };
  if (typeof value === "number") return { numberValue: value };
  if (typeof value === "string") return { stringValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  return { structValue: toStruct(value) };
}

/** The plain object a Struct holds ({} for none). */
export function fromStruct(struct: Struct__Output | Struct | null | undefined): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) out[key] = fromValue(value);
  return out;
}

const KINDS = ["nullValue", "boolValue", "numberValue", "stringValue", "listValue", "structValue"] as const;

/**
 * Which field of a Value is set: the `kind` oneof name proto-loader adds to what it decodes, or,
 * for a Value built by hand, the first field present.
 */
function kindOf(value: Value__Output | Value): (typeof KINDS)[number] | undefined {
  if ("kind" in value && value.kind) return value.kind;
  const fields = value as { [field: string]: unknown };
  return KINDS.find((kind) => fields[kind] !== undefined && fields[kind] !== null);
}

/** The plain JSON a Value holds. */
export function fromValue(value: Value__Output | Value | null | undefined): Json {
  if (!value) return null;
  switch (kindOf(value)) {
    case "boolValue":
      return value.boolValue ?? null;
    case "numberValue":
      return value.numberValue ?? null;
    case "stringValue":
      return value.stringValue ?? null;
    case "listValue":
      return (value.listValue?.values ?? []).map(fromValue);
    case "structValue":
      return fromStruct(value.structValue);
    default:
      return null;
  }
}
