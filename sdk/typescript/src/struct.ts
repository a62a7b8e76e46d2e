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

/** The plain JSON a Value holds. */
export function fromValue(value: Value__Output | Value | null | undefined): Json {
  if (!value) return null;
  if (value.boolValue !== undefined && value.boolValue !== null && ("kind" in value ? value.kind === "boolValue" : true)) return value.boolValue;
  if (value.numberValue !== undefined && value.numberValue !== null && ("kind" in value ? value.kind === "numberValue" : true)) return value.numberValue;
  if (value.stringValue !== undefined && value.stringValue !== null && ("kind" in value ? value.kind === "stringValue" : true)) return value.stringValue;
  if (value.listValue && ("kind" in value ? value.kind === "listValue" : true)) return (value.listValue.values ?? []).map(fromValue);
  if (value.structValue && ("kind" in value ? value.kind === "structValue" : true)) return fromStruct(value.structValue);
  return null;
}
