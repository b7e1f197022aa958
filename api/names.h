// Kubernetes' name rules (k8s.io/apimachinery/pkg/util/validation), the one
// definition every component uses: the plugin, the webhook's admission rules
// and the engine must accept exactly what the API server accepts.
#pragma once

#include <string_view>

namespace api {

// RFC 1123 label: 1-63 characters, lower-case alphanumerics or '-', starting
// and ending alphanumeric (namespaces, label-safe names).
bool IsDns1123Label(std::string_view s);
// RFC 1123 subdomain: at most 253 characters, dot-separated parts that each
// start and end alphanumeric (most object names: VMIs, VMIMs, nodes).
bool IsDns1123Subdomain(std::string_view s);
// A label (or annotation) key: an optional DNS-1123 subdomain prefix and '/',
// then a name of 1-63 alphanumerics, '-', '_' or '.', starting and ending
// alphanumeric (upper case allowed).
bool IsQualifiedName(std::string_view s);
// A label value: empty, or like the name part of a qualified name.
bool IsLabelValue(std::string_view s);

}  // namespace api
