// Conversions between API versions that store the same objects differently.
// Custom resources' versions share one schema (only apiVersion changes);
// events.k8s.io/v1 Events are core/v1 Events under other field names.
#pragma once

#include "tests/devcluster/json.h"

namespace devcluster {

// Renames core/v1 Event fields to their events.k8s.io/v1 names, or back.
void ConvertEventToEventsV1(Json& event, Alloc& a);
void ConvertEventToCoreV1(Json& event, Alloc& a);

// The core/v1 field name for an events.k8s.io/v1 field selector field
// ("regarding.name" -> "involvedObject.name"); other fields unchanged.
std::string CoreEventField(const std::string& events_v1_field);

}  // namespace devcluster
