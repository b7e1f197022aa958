// Kubernetes' name rules (k8s.io/apimachinery/pkg/util/validation), the one
// definition every component uses.
#pragma once

#include <string_view>

namespace api {

// RFC 1123 label: 1-63 characters, lower-case alphanumerics or '-', starting
// and ending alphanumeric (namespaces, label-safe names).
bool IsDns1123Label(std::string_view s);
// RFC 1123 subdomain: at most 253 characters, dot-separated parts that each
// start and end alphanumeric (most object names, node names).
bool IsDns1123Subdomain(std::string_view s);

}  // namespace api
