// Test helper for the end-to-end tests: prints the libvirt domain XML that
// engine::BuildDomainXml makes for a VMI (or, with --target-files, the files a
// block migration's target must create), resolving node-local paths the way
// design.md §4.3 describes: kernelBoot.container.image and containerDisk.image
// name directories under --image-dir, and kernelPath/initrdPath are relative to
// them. Volume sources other than those come from --volume flags. Paths are
// node paths: nothing here touches the files.
//
// Usage: vmi_domain_xml VMI.json --serial-log PATH [--image-dir DIR] [--type kvm|qemu]
//          [--bridge NAME] [--volume NAME=PATH[,shared][,block][,qcow2][,size=BYTES]]...
//          [--target-files]
//        vmi_domain_xml --vmi-ref DOMAIN.xml   (prints NAMESPACE NAME UID from its metadata)
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "api/json.h"
#include "engine/domain_xml.h"

namespace {

int Usage(const std::string& problem) {
  std::cerr << "vmi_domain_xml: " << problem
            << "\nusage: vmi_domain_xml VMI.json --serial-log PATH [--image-dir DIR] "
               "[--type kvm|qemu] [--bridge NAME] [--volume NAME=PATH[,shared][,block][,qcow2]"
               "[,size=BYTES]]... [--target-files]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--vmi-ref") {
    std::ifstream xml_in(argv[2]);
    if (!xml_in) return Usage(std::string("cannot read ") + argv[2]);
    std::stringstream xml;
    xml << xml_in.rdbuf();
    auto ref = engine::VMIRefFromDomainXml(xml.str());
    if (!ref.ok()) {
      std::cerr << "vmi_domain_xml: " << ref.status().message() << "\n";
      return 1;
    }
    std::cout << ref->namespace_ << " " << ref->name << " " << ref->uid << "\n";
    return 0;
  }
  std::string vmi_file, image_dir;
  engine::DomainSettings settings;
  settings.domain_type = "qemu";
  engine::DomainSources sources;
  bool target_files = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    if (arg == "--serial-log") {
      if (!value(settings.serial_log_path)) return Usage("--serial-log needs a value");
    } else if (arg == "--image-dir") {
      if (!value(image_dir)) return Usage("--image-dir needs a value");
    } else if (arg == "--type") {
      if (!value(settings.domain_type)) return Usage("--type needs a value");
    } else if (arg == "--bridge") {
      if (!value(settings.bridge_name)) return Usage("--bridge needs a value");
    } else if (arg == "--target-files") {
      target_files = true;
    } else if (arg == "--volume") {
      std::string spec;
      if (!value(spec)) return Usage("--volume needs a value");
      const size_t eq = spec.find('=');
      if (eq == std::string::npos) return Usage("--volume wants NAME=PATH[,...]");
      engine::VolumeSource src;
      std::stringstream rest(spec.substr(eq + 1));
      std::string item;
      std::getline(rest, src.path, ',');
      while (std::getline(rest, item, ',')) {
        if (item == "shared") {
          src.shared = true;
        } else if (item == "block") {
          src.type = engine::VolumeSource::Type::kBlock;
        } else if (item == "qcow2") {
          src.format = "qcow2";
        } else if (item.rfind("size=", 0) == 0) {
          src.size_bytes = std::stoull(item.substr(5));
        } else {
          return Usage("unknown --volume option " + item);
        }
      }
      sources.volumes[spec.substr(0, eq)] = src;
    } else if (vmi_file.empty() && arg.rfind("--", 0) != 0) {
      vmi_file = arg;
    } else {
      return Usage("unknown argument " + arg);
    }
  }
  if (vmi_file.empty()) return Usage("no VMI file");
  std::ifstream in(vmi_file);
  if (!in) return Usage("cannot read " + vmi_file);
  std::stringstream text;
  text << in.rdbuf();
  auto vmi = api::ParseVMI(text.str());
  if (!vmi.ok()) {
    std::cerr << "vmi_domain_xml: " << vmi_file << ": " << vmi.status().message() << "\n";
    return 1;
  }
  if (!image_dir.empty()) {
    if (const auto& kb = vmi->spec.kernel_boot) {
      const std::string f = "spec.domain.firmware.kernelBoot.container";
      for (auto [rel, out] : {std::pair{&kb->kernel_path, &sources.kernel_path},
                              std::pair{&kb->initrd_path, &sources.initrd_path}}) {
        if (rel->empty()) continue;
        auto path = engine::ImagePath(image_dir, kb->image, *rel, f);
        if (!path.ok()) return Usage(path.status().message());
        *out = *path;
      }
    }
    for (size_t i = 0; i < vmi->spec.volumes.size(); ++i) {
      const api::Volume& v = vmi->spec.volumes[i];
      if (v.kind != api::VolumeKind::kContainerDisk || sources.volumes.count(v.name) != 0) {
        continue;
      }
      auto path = engine::ImagePath(image_dir, v.image, "disk.img",
                                    "spec.volumes[" + std::to_string(i) + "].containerDisk.image");
      if (!path.ok()) return Usage(path.status().message());
      engine::VolumeSource src;
      src.path = *path;
      sources.volumes[v.name] = src;
    }
  }
  if (target_files) {
    auto files = engine::BlockMigrationTargetFiles(*vmi, sources);
    if (!files.ok()) {
      std::cerr << "vmi_domain_xml: " << files.status().message() << "\n";
      return 1;
    }
    // One line per file: VOLUME DEV PATH SIZE FORMAT rw|ro
    for (const engine::TargetFile& f : *files) {
      std::cout << f.volume << " " << f.dev << " " << f.path << " " << f.size_bytes << " "
                << f.format << " " << (f.read_only ? "ro" : "rw") << "\n";
    }
    return 0;
  }
  auto xml = engine::BuildDomainXml(*vmi, sources, settings);
  if (!xml.ok()) {
    std::cerr << "vmi_domain_xml: " << xml.status().message() << "\n";
    return 1;
  }
  std::cout << *xml;
  return 0;
}
