#include "engine/domain_xml.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>

#include "api/names.h"

namespace engine {
namespace {

using base::Status;

#define DX_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::base::Status dx_status_ = (expr);      \
    if (!dx_status_.ok()) return dx_status_; \
  } while (0)

constexpr uint64_t kMiB = 1024 * 1024;
// QEMU's (and libvirt's) ceiling for x86 guests is far lower than any int64
// product; this keeps the arithmetic and the XML sane.
constexpr int64_t kMaxVcpus = 4096;

Status FieldError(std::string_view field, std::string_view problem) {
  return base::InvalidArgument(std::string(field) + ": " + std::string(problem));
}

// XML 1.0 cannot carry most control characters at all, escaped or not
// (libvirt's parser rejects the document), so user text holding them is an
// error rather than something to escape.
bool IsXmlSafe(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
    if (c == 0x7f) return false;
  }
  return true;
}

// Paths and names: no control character at all, newlines included.
bool NoControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// Escapes for both text and single- or double-quoted attribute values.
std::string Esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\'': out += "&apos;"; break;
      case '"': out += "&quot;"; break;
      // Attribute values normalise raw whitespace; keep it exact.
      case '\n': out += "&#10;"; break;
      case '\r': out += "&#13;"; break;
      case '\t': out += "&#9;"; break;
      default: out += c;
    }
  }
  return out;
}

Status CheckText(std::string_view field, std::string_view s) {
  if (!IsXmlSafe(s)) return FieldError(field, "contains control characters");
  return Status::Ok();
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// 8-4-4-4-12 hex digits.
bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!IsHex(s[i])) {
      return false;
    }
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// FNV-1a 64 with a seed: two independent runs give 128 stable bits.
uint64_t Fnv1a(std::string_view s, uint64_t seed) {
  uint64_t h = 14695981039346656037ull ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// The domain's uuid: the VMI's uid itself when it is a UUID (it is, from a
// real API server), so `virsh dominfo` shows the uid users see in kubectl;
// else 128 bits hashed from the uid, marked as an RFC 9562 version 8
// (vendor-specific) variant 1 UUID. Stable across restarts and nodes: the
// target of a migration defines the same uuid, as libvirt requires.
std::string DomainUuid(std::string_view uid) {
  if (IsUuid(uid)) return Lower(uid);
  uint64_t hi = Fnv1a(uid, 0), lo = Fnv1a(uid, 0x9e3779b97f4a7c15ull);
  hi = (hi & ~0xf000ull) | 0x8000ull;        // version 8
  lo = (lo & ~(3ull << 62)) | (2ull << 62);  // variant 1 (10xx)
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08llx-%04llx-%04llx-%04llx-%012llx",
                static_cast<unsigned long long>(hi >> 32),
                static_cast<unsigned long long>((hi >> 16) & 0xffff),
                static_cast<unsigned long long>(hi & 0xffff),
                static_cast<unsigned long long>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffull));
  return buf;
}

// A unicast MAC in the colon form libvirt takes; multicast addresses (low
// bit of the first octet) are refused by libvirt, so refuse them here with the
// field's name.
bool IsUnicastMac(std::string_view s) {
  if (s.size() != 17) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i % 3 == 2) {
      if (s[i] != ':') return false;
    } else if (!IsHex(s[i])) {
      return false;
    }
  }
  const int first = std::stoi(std::string(s.substr(0, 2)), nullptr, 16);
  return (first & 1) == 0;
}

// libvirt's QEMU driver accepts only these in a disk serial.
bool IsSafeSerial(std::string_view s) {
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == ' ' || c == '.' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// "a".."z", "aa".."az", ... as libvirt numbers target devices (vda, vdaa).
std::string DiskLetters(size_t index) {
  std::string out;
  ++index;
  while (index > 0) {
    --index;
    out.insert(out.begin(), static_cast<char>('a' + index % 26));
    index /= 26;
  }
  return out;
}

bool Supported(api::VolumeKind kind) {
  using K = api::VolumeKind;
  switch (kind) {
    case K::kContainerDisk:
    case K::kEmptyDisk:
    case K::kHostDisk:
    case K::kPersistentVolumeClaim:
    case K::kDataVolume:
    case K::kCloudInitNoCloud: return true;
    default: return false;
  }
}

// One volume as the guest sees it.
struct Attachment {
  const api::Volume* volume = nullptr;
  size_t volume_index = 0;
  const VolumeSource* source = nullptr;
  api::DiskDevice device = api::DiskDevice::kDisk;
  std::string bus;
  int64_t boot_order = 0;
  std::string serial;
  std::string field;  // the disks[] entry (or volume) errors name
  bool read_only = false;
  std::string dev;  // target device: vda, vdb... for virtio, sda... for the others
};

std::string VolumeField(size_t i) { return "spec.volumes[" + std::to_string(i) + "]"; }

// Pairs disks[] with volumes, then adds a default attachment for every volume
// no disks[] entry names (KubeVirt's defaulting does the same): a cloud-init
// volume as a cdrom (a read-only ISO), anything else as a virtio disk.
base::StatusOr<std::vector<Attachment>> Attach(const api::VMI& vmi, const DomainSources& sources) {
  const auto& volumes = vmi.spec.volumes;
  std::map<std::string, size_t> by_name;
  for (size_t i = 0; i < volumes.size(); ++i) {
    const std::string f = VolumeField(i);
    if (volumes[i].name.empty()) return FieldError(f + ".name", "must not be empty");
    if (!by_name.emplace(volumes[i].name, i).second) {
      return FieldError(f + ".name", "\"" + volumes[i].name + "\" is used by two volumes");
    }
  }
  std::vector<Attachment> out;
  std::set<std::string> attached;
  for (size_t d = 0; d < vmi.spec.disks.size(); ++d) {
    const api::Disk& disk = vmi.spec.disks[d];
    const std::string f = "spec.domain.devices.disks[" + std::to_string(d) + "]";
    auto it = by_name.find(disk.name);
    if (it == by_name.end()) {
      return FieldError(f + ".name", "no volume named \"" + disk.name + "\" in spec.volumes");
    }
    if (!attached.insert(disk.name).second) {
      return FieldError(f + ".name", "volume \"" + disk.name + "\" is attached twice");
    }
    Attachment a;
    a.volume_index = it->second;
    a.volume = &volumes[it->second];
    a.device = disk.device;
    a.bus = disk.bus;
    a.boot_order = disk.boot_order;
    a.serial = disk.serial;
    a.field = f;
    out.push_back(std::move(a));
  }
  for (size_t i = 0; i < volumes.size(); ++i) {
    if (attached.count(volumes[i].name) != 0) continue;
    Attachment a;
    a.volume_index = i;
    a.volume = &volumes[i];
    a.device = volumes[i].kind == api::VolumeKind::kCloudInitNoCloud ? api::DiskDevice::kCdrom
                                                                     : api::DiskDevice::kDisk;
    a.field = VolumeField(i);
    out.push_back(std::move(a));
  }
  for (Attachment& a : out) {
    const std::string vf = VolumeField(a.volume_index);
    if (!Supported(a.volume->kind)) {
      return FieldError(vf, "volume \"" + a.volume->name + "\" (" +
                                std::string(api::VolumeKindName(a.volume->kind)) +
                                ") cannot be started by this engine (supported: "
                                "containerDisk, emptyDisk, hostDisk, persistentVolumeClaim, "
                                "dataVolume, cloudInitNoCloud)");
    }
    auto src = sources.volumes.find(a.volume->name);
    if (src == sources.volumes.end() || src->second.path.empty()) {
      return FieldError(vf, "volume \"" + a.volume->name + "\" (" +
                                std::string(api::VolumeKindName(a.volume->kind)) +
                                ") has no source on this node");
    }
    a.source = &src->second;
    if (a.source->path.front() != '/') {
      return FieldError(vf, "the source of volume \"" + a.volume->name +
                                "\" must be an absolute path, got \"" + a.source->path + "\"");
    }
    DX_RETURN_IF_ERROR(CheckText(vf + " source path", a.source->path));
    if (a.source->format != "raw" && a.source->format != "qcow2") {
      return FieldError(vf, "the source of volume \"" + a.volume->name + "\" has format \"" +
                                a.source->format + "\" (want raw or qcow2)");
    }
    a.read_only =
        a.device == api::DiskDevice::kCdrom || a.volume->kind == api::VolumeKind::kCloudInitNoCloud;
    switch (a.device) {
      case api::DiskDevice::kDisk:
        if (a.bus.empty()) a.bus = "virtio";
        if (a.bus != "virtio" && a.bus != "sata" && a.bus != "scsi" && a.bus != "usb") {
          return FieldError(a.field + ".disk.bus",
                            "\"" + a.bus + "\" is not supported (virtio, sata, scsi or usb)");
        }
        break;
      case api::DiskDevice::kCdrom:
        // QEMU has no virtio cdrom; SATA is what KubeVirt defaults to.
        if (a.bus.empty()) a.bus = "sata";
        if (a.bus != "sata" && a.bus != "scsi" && a.bus != "usb") {
          return FieldError(a.field + ".cdrom.bus",
                            "\"" + a.bus + "\" is not supported for a cdrom (sata, scsi or usb)");
        }
        break;
      case api::DiskDevice::kLun:
        return FieldError(a.field + ".lun", "lun disks (SCSI passthrough) are not supported");
    }
    if (!IsSafeSerial(a.serial)) {
      return FieldError(a.field + ".serial",
                        "may hold only letters, digits, '_', ' ', '.', '+' and '-'");
    }
  }
  std::map<std::string, size_t> next_index;  // by target prefix
  for (Attachment& a : out) {
    const std::string prefix = a.bus == "virtio" ? "vd" : "sd";
    a.dev = prefix + DiskLetters(next_index[prefix]++);
  }
  return out;
}

base::StatusOr<uint64_t> MemoryMiB(const api::VMI& vmi) {
  const api::Quantity* q = vmi.GuestMemory();
  if (q == nullptr) {
    return FieldError("spec.domain.memory.guest",
                      "no guest memory: set it or spec.domain.resources.requests.memory");
  }
  const char* field =
      vmi.spec.memory_guest ? "spec.domain.memory.guest" : "spec.domain.resources.requests.memory";
  auto bytes = q->Bytes();
  if (!bytes.ok()) return FieldError(field, bytes.status().message());
  if (*bytes <= 0) return FieldError(field, "must be positive, got " + q->String());
  // Rounded up to whole MiB: the guest gets at least what it asked for, and
  // QEMU sizes RAM in pages anyway (2.5Mi becomes 3 MiB).
  return (static_cast<uint64_t>(*bytes) + kMiB - 1) / kMiB;
}

struct Topology {
  int64_t sockets = 1, cores = 1, threads = 1;
  int64_t Vcpus() const { return sockets * cores * threads; }
};

base::StatusOr<Topology> CpuTopology(const api::VMISpec& spec) {
  Topology t;
  const std::pair<const char*, int64_t> parts[] = {{"spec.domain.cpu.sockets", spec.cpu_sockets},
                                                   {"spec.domain.cpu.cores", spec.cpu_cores},
                                                   {"spec.domain.cpu.threads", spec.cpu_threads}};
  int64_t* outs[] = {&t.sockets, &t.cores, &t.threads};
  for (int i = 0; i < 3; ++i) {
    const int64_t v = parts[i].second;
    if (v < 0 || v > kMaxVcpus) {
      return FieldError(parts[i].first,
                        "must be 0.." + std::to_string(kMaxVcpus) + ", got " + std::to_string(v));
    }
    *outs[i] = v == 0 ? 1 : v;  // 0 = unset = 1, as in KubeVirt
  }
  if (t.Vcpus() > kMaxVcpus) {
    return FieldError("spec.domain.cpu", "sockets×cores×threads = " + std::to_string(t.Vcpus()) +
                                             " exceeds " + std::to_string(kMaxVcpus));
  }
  return t;
}

Status CheckSettings(const DomainSettings& s) {
  if (s.domain_type != "kvm" && s.domain_type != "qemu") {
    return FieldError("settings.domain_type", "must be kvm or qemu, got \"" + s.domain_type + "\"");
  }
  if (s.serial_log_path.empty() || s.serial_log_path.front() != '/') {
    return FieldError("settings.serial_log_path", "must be an absolute path");
  }
  DX_RETURN_IF_ERROR(CheckText("settings.serial_log_path", s.serial_log_path));
  DX_RETURN_IF_ERROR(CheckText("settings.bridge_name", s.bridge_name));
  DX_RETURN_IF_ERROR(CheckText("settings.emulator", s.emulator));
  DX_RETURN_IF_ERROR(CheckText("settings.arch", s.arch));
  DX_RETURN_IF_ERROR(CheckText("settings.machine", s.machine));
  if (s.arch.empty()) return FieldError("settings.arch", "must not be empty");
  return Status::Ok();
}

// Finds `attr="value"` or `attr='value'` in an element's attribute text and
// unescapes the predefined entities and numeric references libvirt writes.
std::optional<std::string> Attribute(std::string_view attrs, std::string_view attr) {
  size_t pos = 0;
  while (pos < attrs.size()) {
    while (pos < attrs.size() &&
           (attrs[pos] == ' ' || attrs[pos] == '\t' || attrs[pos] == '\n' || attrs[pos] == '\r')) {
      ++pos;
    }
    const size_t eq = attrs.find('=', pos);
    if (eq == std::string_view::npos || eq + 1 >= attrs.size()) return std::nullopt;
    std::string_view key = attrs.substr(pos, eq - pos);
    while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
    size_t q = eq + 1;
    while (q < attrs.size() && attrs[q] == ' ') ++q;
    if (q >= attrs.size() || (attrs[q] != '"' && attrs[q] != '\'')) return std::nullopt;
    const size_t end = attrs.find(attrs[q], q + 1);
    if (end == std::string_view::npos) return std::nullopt;
    if (key == attr) {
      std::string_view raw = attrs.substr(q + 1, end - q - 1);
      std::string out;
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '&') {
          out += raw[i];
          continue;
        }
        const size_t semi = raw.find(';', i);
        if (semi == std::string_view::npos) return std::nullopt;
        std::string_view ent = raw.substr(i + 1, semi - i - 1);
        if (ent == "amp") {
          out += '&';
        } else if (ent == "lt") {
          out += '<';
        } else if (ent == "gt") {
          out += '>';
        } else if (ent == "quot") {
          out += '"';
        } else if (ent == "apos") {
          out += '\'';
        } else if (ent.size() >= 2 && ent[0] == '#') {
          const bool hex = ent[1] == 'x';
          const std::string digits(ent.substr(hex ? 2 : 1));
          if (digits.empty() || digits.size() > 6) return std::nullopt;
          const long code = std::strtol(digits.c_str(), nullptr, hex ? 16 : 10);
          if (code <= 0 || code > 0x7f) return std::nullopt;  // our values are ASCII
          out += static_cast<char>(code);
        } else {
          return std::nullopt;
        }
        i = semi;
      }
      return out;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

}  // namespace

base::StatusOr<std::string> ImagePath(std::string_view image_dir, std::string_view image,
                                      std::string_view relative, std::string_view field) {
  if (image_dir.empty() || image_dir.front() != '/') {
    return FieldError("image directory", "must be an absolute path");
  }
  if (image.empty()) return FieldError(field, "no image named");
  std::string out(image_dir);
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  // Empty components ("a//b", a leading '/') are dropped; "." and ".." are
  // refused rather than resolved, so nothing can point outside the image.
  for (std::string_view part : {image, relative}) {
    if (!NoControl(part)) return FieldError(field, "contains control characters");
    size_t pos = 0;
    while (pos <= part.size()) {
      size_t slash = part.find('/', pos);
      if (slash == std::string_view::npos) slash = part.size();
      std::string_view comp = part.substr(pos, slash - pos);
      if (comp == "." || comp == "..") {
        return FieldError(field,
                          "\"" + std::string(part) + "\" must not contain . or .. components");
      }
      if (!comp.empty()) {
        out += '/';
        out += comp;
      }
      pos = slash + 1;
    }
  }
  return out;
}

base::StatusOr<std::string> DomainName(std::string_view ns, std::string_view name) {
  if (!api::IsDns1123Label(ns)) {
    return FieldError(
        "metadata.namespace",
        "\"" + std::string(ns) + "\" is not a DNS-1123 label (a Kubernetes namespace)");
  }
  if (!api::IsDns1123Subdomain(name)) {
    return FieldError("metadata.name", "\"" + std::string(name) +
                                           "\" is not a DNS-1123 subdomain (a Kubernetes name)");
  }
  return std::string(ns) + "_" + std::string(name);
}

base::StatusOr<VMIRef> ParseDomainName(std::string_view domain_name) {
  const size_t sep = domain_name.find('_');
  if (sep == std::string_view::npos) {
    return base::NotFound("domain \"" + std::string(domain_name) + "\" is not named ns_name");
  }
  VMIRef ref{std::string(domain_name.substr(0, sep)), std::string(domain_name.substr(sep + 1)), ""};
  if (!api::IsDns1123Label(ref.namespace_) || !api::IsDns1123Subdomain(ref.name)) {
    return base::NotFound("domain \"" + std::string(domain_name) +
                          "\" is not named after a Kubernetes namespace and name");
  }
  return ref;
}

base::StatusOr<VMIRef> VMIRefFromDomainXml(std::string_view xml) {
  // The prefix bound to our namespace URI, from its xmlns:PREFIX declaration.
  std::optional<std::string> prefix;
  for (size_t at = xml.find("xmlns:"); at != std::string_view::npos;
       at = xml.find("xmlns:", at + 1)) {
    const size_t eq = xml.find('=', at);
    if (eq == std::string_view::npos) break;
    std::string_view p = xml.substr(at + 6, eq - at - 6);
    std::string_view rest = xml.substr(eq + 1);
    if (rest.empty() || (rest[0] != '"' && rest[0] != '\'')) continue;
    const size_t end = rest.find(rest[0], 1);
    if (end == std::string_view::npos) break;
    if (rest.substr(1, end - 1) == kMetadataNamespace) {
      prefix = std::string(p);
      break;
    }
  }
  if (!prefix) return base::NotFound("no kubemigrate metadata in the domain XML");
  const std::string open = "<" + *prefix + ":vmi";
  size_t start = std::string_view::npos;
  for (size_t at = xml.find(open); at != std::string_view::npos; at = xml.find(open, at + 1)) {
    const size_t after = at + open.size();
    if (after < xml.size() && (xml[after] == ' ' || xml[after] == '\n' || xml[after] == '\t' ||
                               xml[after] == '/' || xml[after] == '>')) {
      start = after;
      break;
    }
  }
  if (start == std::string_view::npos) {
    return base::InvalidArgument("kubemigrate metadata: no <" + *prefix + ":vmi> element");
  }
  // The attribute text runs to the first '>' outside quotes.
  char quote = 0;
  size_t end = start;
  for (; end < xml.size(); ++end) {
    const char c = xml[end];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '>') {
      break;
    }
  }
  if (end >= xml.size()) return base::InvalidArgument("kubemigrate metadata: unterminated element");
  std::string_view attrs = xml.substr(start, end - start);
  if (!attrs.empty() && attrs.back() == '/') attrs.remove_suffix(1);
  VMIRef ref;
  auto ns = Attribute(attrs, "namespace");
  auto name = Attribute(attrs, "name");
  if (!ns || !name || ns->empty() || name->empty()) {
    return base::InvalidArgument("kubemigrate metadata: namespace and name are required");
  }
  ref.namespace_ = *ns;
  ref.name = *name;
  if (auto uid = Attribute(attrs, "uid")) ref.uid = *uid;
  return ref;
}

base::StatusOr<std::string> BuildDomainXml(const api::VMI& vmi, const DomainSources& sources,
                                           const DomainSettings& settings) {
  DX_RETURN_IF_ERROR(CheckSettings(settings));
  auto name = DomainName(vmi.meta.namespace_, vmi.meta.name);
  if (!name.ok()) return name.status();
  DX_RETURN_IF_ERROR(CheckText("metadata.uid", vmi.meta.uid));
  auto memory_mib = MemoryMiB(vmi);
  if (!memory_mib.ok()) return memory_mib.status();
  auto topology = CpuTopology(vmi.spec);
  if (!topology.ok()) return topology.status();
  auto attachments = Attach(vmi, sources);
  if (!attachments.ok()) return attachments.status();

  std::string x;
  x += "<domain type='" + settings.domain_type + "'>\n";
  x += "  <name>" + Esc(*name) + "</name>\n";
  if (!vmi.meta.uid.empty()) x += "  <uuid>" + DomainUuid(vmi.meta.uid) + "</uuid>\n";
  x += "  <metadata>\n";
  x += "    <kubemigrate:vmi xmlns:kubemigrate='" + std::string(kMetadataNamespace) +
       "' namespace='" + Esc(vmi.meta.namespace_) + "' name='" + Esc(vmi.meta.name) + "' uid='" +
       Esc(vmi.meta.uid) + "'/>\n";
  x += "  </metadata>\n";
  x += "  <memory unit='MiB'>" + std::to_string(*memory_mib) + "</memory>\n";
  x += "  <vcpu placement='static'>" + std::to_string(topology->Vcpus()) + "</vcpu>\n";

  bool any_boot_order = false;
  for (const Attachment& a : *attachments) any_boot_order |= a.boot_order > 0;
  x += "  <os>\n";
  x += "    <type arch='" + Esc(settings.arch) + "'";
  if (!settings.machine.empty()) x += " machine='" + Esc(settings.machine) + "'";
  x += ">hvm</type>\n";
  if (vmi.spec.kernel_boot) {
    const api::KernelBoot& kb = *vmi.spec.kernel_boot;
    const std::string f = "spec.domain.firmware.kernelBoot";
    if (sources.kernel_path.empty() || sources.kernel_path.front() != '/') {
      return FieldError(f + ".container.kernelPath",
                        "no kernel resolved on this node for image \"" + kb.image + "\"");
    }
    if (!kb.initrd_path.empty() &&
        (sources.initrd_path.empty() || sources.initrd_path.front() != '/')) {
      return FieldError(f + ".container.initrdPath",
                        "no initrd resolved on this node for image \"" + kb.image + "\"");
    }
    DX_RETURN_IF_ERROR(CheckText(f + ".container.kernelPath", sources.kernel_path));
    DX_RETURN_IF_ERROR(CheckText(f + ".container.initrdPath", sources.initrd_path));
    DX_RETURN_IF_ERROR(CheckText(f + ".kernelArgs", kb.kernel_args));
    x += "    <kernel>" + Esc(sources.kernel_path) + "</kernel>\n";
    if (!sources.initrd_path.empty())
      x += "    <initrd>" + Esc(sources.initrd_path) + "</initrd>\n";
    if (!kb.kernel_args.empty()) x += "    <cmdline>" + Esc(kb.kernel_args) + "</cmdline>\n";
  }
  // Per-device <boot order> and <os><boot dev> exclude each other in libvirt.
  if (!any_boot_order && !vmi.spec.kernel_boot) x += "    <boot dev='hd'/>\n";
  x += "  </os>\n";
  x += "  <features>\n    <acpi/>\n  </features>\n";
  x += "  <cpu>\n    <topology sockets='" + std::to_string(topology->sockets) + "' cores='" +
       std::to_string(topology->cores) + "' threads='" + std::to_string(topology->threads) +
       "'/>\n  </cpu>\n";
  x += "  <on_poweroff>destroy</on_poweroff>\n";
  x += "  <on_reboot>restart</on_reboot>\n";
  x += "  <on_crash>destroy</on_crash>\n";
  x += "  <devices>\n";
  if (!settings.emulator.empty()) x += "    <emulator>" + Esc(settings.emulator) + "</emulator>\n";

  for (const Attachment& a : *attachments) {
    const VolumeSource& src = *a.source;
    const bool block = src.type == VolumeSource::Type::kBlock;
    x += "    <disk type='" + std::string(block ? "block" : "file") + "' device='" +
         (a.device == api::DiskDevice::kCdrom ? "cdrom" : "disk") + "'>\n";
    x += "      <driver name='qemu' type='" + src.format + "'";
    // Live migration of a disk on shared storage needs host caching off, or
    // libvirt refuses it as unsafe (the target would read stale pages).
    // Node-local disks keep QEMU's default: a block migration copies them,
    // and O_DIRECT is not available on every filesystem (tmpfs).
    if (src.shared) x += " cache='none'";
    x += "/>\n";
    x += "      <source " + std::string(block ? "dev" : "file") + "='" + Esc(src.path) + "'/>\n";
    x += "      <target dev='" + a.dev + "' bus='" + a.bus + "'/>\n";
    if (a.read_only) x += "      <readonly/>\n";
    if (!a.serial.empty()) x += "      <serial>" + Esc(a.serial) + "</serial>\n";
    if (a.boot_order > 0) x += "      <boot order='" + std::to_string(a.boot_order) + "'/>\n";
    x += "    </disk>\n";
  }

  for (size_t i = 0; i < vmi.spec.interfaces.size(); ++i) {
    const api::Interface& iface = vmi.spec.interfaces[i];
    const std::string f = "spec.domain.devices.interfaces[" + std::to_string(i) + "]";
    switch (iface.binding) {
      case api::InterfaceBinding::kMasquerade:
      case api::InterfaceBinding::kSlirp:
        // NAT in QEMU itself (user-mode networking): no host setup, and its
        // state travels with the migration.
        x += "    <interface type='user'>\n";
        break;
      case api::InterfaceBinding::kBridge:
        if (settings.bridge_name.empty()) {
          return FieldError(f + ".bridge", "no host bridge is configured on this node");
        }
        x += "    <interface type='bridge'>\n";
        x += "      <source bridge='" + Esc(settings.bridge_name) + "'/>\n";
        break;
      default:
        return FieldError(f, "interface \"" + iface.name + "\" has binding " +
                                 std::string(api::InterfaceBindingName(iface.binding)) +
                                 ", which this engine cannot start (masquerade or bridge)");
    }
    if (!iface.mac_address.empty()) {
      if (!IsUnicastMac(iface.mac_address)) {
        return FieldError(f + ".macAddress",
                          "\"" + iface.mac_address + "\" is not a unicast MAC (xx:xx:xx:xx:xx:xx)");
      }
      x += "      <mac address='" + Lower(iface.mac_address) + "'/>\n";
    }
    x += "      <model type='virtio'/>\n";
    x += "    </interface>\n";
  }

  x += "    <serial type='file'>\n";
  x += "      <source path='" + Esc(settings.serial_log_path) + "'/>\n";
  x += "      <target port='0'/>\n";
  x += "    </serial>\n";
  x += "    <console type='file'>\n";
  x += "      <source path='" + Esc(settings.serial_log_path) + "'/>\n";
  x += "      <target type='serial' port='0'/>\n";
  x += "    </console>\n";
  x += "    <memballoon model='none'/>\n";
  x += "  </devices>\n";
  x += "</domain>\n";
  return x;
}

base::StatusOr<std::vector<TargetFile>> BlockMigrationTargetFiles(const api::VMI& vmi,
                                                                  const DomainSources& sources) {
  auto attachments = Attach(vmi, sources);
  if (!attachments.ok()) return attachments.status();
  std::vector<const Attachment*> ordered;
  for (const Attachment& a : *attachments) ordered.push_back(&a);
  std::sort(ordered.begin(), ordered.end(), [](const Attachment* a, const Attachment* b) {
    return a->volume_index < b->volume_index;
  });
  std::vector<TargetFile> out;
  for (const Attachment* a : ordered) {
    const VolumeSource& src = *a->source;
    if (src.shared) continue;  // every node sees it; nothing to create or copy
    const std::string vf = VolumeField(a->volume_index);
    if (src.type == VolumeSource::Type::kBlock) {
      return FieldError(vf, "volume \"" + a->volume->name +
                                "\" is a node-local block device, which a block migration "
                                "cannot create on the target");
    }
    uint64_t size = src.size_bytes;
    if (size == 0 && a->volume->capacity) {
      auto bytes = a->volume->capacity->Bytes();
      if (bytes.ok() && *bytes > 0) size = static_cast<uint64_t>(*bytes);
    }
    if (size == 0) {
      return FieldError(vf, "the size of volume \"" + a->volume->name + "\" is unknown");
    }
    out.push_back(TargetFile{a->volume->name, a->dev, src.path, size, src.format, a->read_only});
  }
  return out;
}

}  // namespace engine
