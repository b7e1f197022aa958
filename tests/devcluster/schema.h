// Structural OpenAPI v3 schemas of CustomResourceDefinitions, as
// kube-apiserver (apiextensions-apiserver) applies them to custom resources:
// defaulting, dropping of nulls, pruning of unknown fields, validation, and the
// Status errors it answers with. Also the field-error type and the 422
// `Kind.group "name" is invalid: ...` Status shared with metadata validation.
//
// Pure functions; thread-compatible.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tests/devcluster/json.h"

namespace devcluster {

// One field.Error of k8s.io/apimachinery/pkg/util/validation/field.
struct FieldError {
  std::string field;    // "spec.replicas", "spec.list[0].name", "metadata.name"
  std::string type;     // the Status cause reason: "FieldValueInvalid", "FieldValueRequired", ...
  std::string message;  // ErrorBody(): `Invalid value: "x": detail`, "Required value", ...

  // field.Error.Error(): "<field>: <message>".
  std::string Error() const { return field + ": " + message; }
};

// Builders with the apimachinery wording. `go_value` is the bad value already
// formatted the way Go prints it (GoValue below, or GoQuote for strings).
FieldError InvalidValue(std::string field, std::string go_value, std::string_view detail);
FieldError TypeInvalid(std::string field, std::string go_value, std::string_view detail);
FieldError RequiredValue(std::string field, std::string_view detail);
FieldError NotSupported(std::string field, std::string go_value, const std::vector<std::string>& supported);
FieldError Forbidden(std::string field, std::string_view detail);
FieldError TooLong(std::string field, long long max_bytes);
FieldError TooMany(std::string field, long long actual, long long max_items);

// A JSON value printed as Go prints the decoded value in field errors:
// strings quoted (%q), integers plainly, floats with %v, null as null,
// objects and arrays as JSON.
std::string GoValue(const Json& v);

struct SchemaResult {
  // Paths of fields the schema does not know, in document order, e.g.
  // "spec.foo", "spec.list[0].bar", "metadata.bogus".
  std::vector<std::string> unknown_fields;
  std::vector<FieldError> errors;
};

// Walks a custom resource against its version's openAPIV3Schema, in the
// order kube-apiserver does: (1) non-nullable nulls are dropped (or replaced by
// the default), missing properties with a `default` get it; (2) unknown fields
// are collected and, when `prune`, removed (kept under
// x-kubernetes-preserve-unknown-fields, or additionalProperties: true);
// (3) validation: type, enum, minimum/maximum (+exclusive), minLength/maxLength,
// pattern (ECMAScript, unanchored as Go's MatchString), minItems/maxItems,
// required, nullable, x-kubernetes-int-or-string, x-kubernetes-embedded-resource
// (apiVersion, kind, metadata kept). At the root apiVersion, kind and metadata
// are always allowed; metadata keeps only ObjectMeta's fields. `status` is
// validated like any other field. `object` is modified in place (allocator `a`).
SchemaResult ValidateAndPrune(Json& object, const Json& schema, Alloc& a, bool prune);

// 422 Invalid as kube-apiserver words it:
//   `Kind.group "name" is invalid: spec.x: Invalid value: "string": spec.x in body must be of type integer: "string"`
// several errors in brackets joined by ", ". details_json() is
// {"name":..,"group":..,"kind":..,"causes":[{"reason":..,"message":..,"field":..}]}.
// `group` is "" for the core group (then the kind stands alone).
base::Status ToInvalidStatus(const std::vector<FieldError>& errors, std::string_view group, std::string_view kind,
                             std::string_view name);
inline base::Status ToInvalidStatus(const SchemaResult& result, std::string_view group, std::string_view kind,
                                    std::string_view name) {
  return ToInvalidStatus(result.errors, group, kind, name);
}

// fieldValidation=Strict: 400 BadRequest
//   `strict decoding error: unknown field "spec.foo", unknown field "spec.bar"`.
base::Status ToStrictStatus(const std::vector<std::string>& unknown_fields);
// fieldValidation=Warn: one `unknown field "spec.foo"` warning per field.
std::vector<std::string> UnknownFieldWarnings(const std::vector<std::string>& unknown_fields);

// Metadata checks kube-apiserver runs on every object: name (or generateName)
// as a DNS-1123 subdomain, or a DNS-1123 label when !dns1123_subdomain
// (Namespace); label keys and values; annotation keys. `metadata` may be null.
std::vector<FieldError> ValidateObjectMeta(const Json* metadata, bool dns1123_subdomain);

// The structural-schema rules kube-apiserver enforces when a CRD is created or
// updated, for one version's openAPIV3Schema found at `path` (e.g.
// "spec.versions[0].schema.openAPIV3Schema"): type required (except with
// x-kubernetes-int-or-string / -preserve-unknown-fields / -embedded-resource),
// object at the root, known type names, properties only on objects, items on
// arrays, additionalProperties not with properties and not false, metadata at
// the root limited to name and generateName. Empty when the schema is fine;
// report with ToInvalidStatus(errors, "apiextensions.k8s.io",
// "CustomResourceDefinition", crd_name).
std::vector<FieldError> ValidateCrdSchema(const Json& schema, std::string_view path);

}  // namespace devcluster
