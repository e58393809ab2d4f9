// JSON Schema -> GBNF: the grammars behind the server's structured outputs
// (response_format {"type": "json_schema", ...} and {"type": "json_object"}).
//
// The output is llama.cpp's GBNF dialect, restricted to: `name ::= alternatives` rules (one per
// line), string literals and character classes with the escapes \" \\ \n \t \r \xHH (plus raw
// UTF-8 for non-ASCII text), grouping, `|`, and the postfixes * + ? {m} {m,} {m,n}. The start
// rule is `root`. Every document the grammar matches validates against the schema; the converse
// need not hold (object keys come in one fixed order, enum/const values in compact form, a
// bounded amount of whitespace, integers without a fraction or exponent): a sampler constrained
// by it can only produce valid documents. A keyword that would constrain the document in a way
// the grammar cannot express is refused, never ignored.
//
// Supported: type (one or a list; none: any JSON value, or the type the other keywords imply),
// enum, const, $ref to local pointers ("#", "#/$defs/X", "#/definitions/X", any "#/..."; recursion
// through rules), anyOf, oneOf (exclusivity not enforced), allOf (one subschema, or object
// schemas whose properties/required are merged); objects: properties, required,
// additionalProperties; arrays: items, prefixItems (and draft-7 array `items` with
// additionalItems), minItems, maxItems, uniqueItems false; strings: minLength, maxLength,
// format date / time / date-time / uuid; integers: minimum, maximum, exclusiveMinimum,
// exclusiveMaximum (exact ranges); numbers: the same with whole-number bounds.
// Refused (InvalidArgument naming the keyword's place, "schema.properties.code.pattern: not
// supported"): pattern, multipleOf, not, if/then/else, patternProperties, propertyNames,
// min/maxProperties, dependent*, unevaluated*, contains, uniqueItems true, other formats, remote
// $refs, and any keyword not listed here or among the ignored annotations (title, description,
// examples, default, $schema, $comment, readOnly, writeOnly, deprecated, discriminator, $defs,
// definitions; $id at the root only).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"

namespace gorae {

// GBNF text whose root rule ("root") matches JSON documents (compact, or with a little
// whitespace between tokens) that validate against `schema`. Object properties are emitted in
// the schema object's iteration order: nlohmann::json sorts keys, so to keep the order the
// schema was written in (what users expect), parse it as nlohmann::ordered_json and use the
// second overload.
Result<std::string> JsonSchemaToGbnf(const nlohmann::json& schema);
Result<std::string> JsonSchemaToGbnf(const nlohmann::ordered_json& schema);

// GBNF whose root matches any JSON object (response_format {"type": "json_object"}).
std::string AnyJsonObjectGbnf();

}  // namespace gorae
