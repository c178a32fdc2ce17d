// gguf-info: prints what a GGUF file holds — header, metadata, tensors and bytes per type.
//
//   gguf-info FILE [--tensors] [--all]
//
// The file is fully validated first (arx::gguf::open), so a file this tool lists is one arx can
// load; a malformed one is reported with the byte offset of the first bad field. Keys, tensor
// names and strings from the file are printed escaped (control bytes as \xNN), so a crafted file
// cannot send escape sequences to the terminal.
#include <arx/io/gguf.hpp>

#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <string>

namespace gguf = arx::gguf;

namespace {

void usage(std::FILE* out) {
  std::fputs(
      "usage: gguf-info FILE [--tensors] [--all]\n"
      "Prints a GGUF file's version, alignment, metadata and bytes per tensor type.\n"
      "  --tensors  also list every tensor: name, type, shape, offset, bytes\n"
      "  --all      print arrays in full (they are abbreviated otherwise) and list tensors\n"
      "  --help     show this text\n"
      "Exits 1 with the error on stderr when the file cannot be read or is malformed.\n",
      out);
}

std::string type_text(const gguf::value& v) {
  std::string s(gguf::value_type_name(v.type()));
  if (v.is_array())
    s += "<" + std::string(gguf::value_type_name(v.array_type())) + ">[" +
         std::to_string(v.size()) + "]";
  return s;
}

void print_metadata(const gguf::file& f, bool all) {
  std::printf("metadata: %zu keys\n", f.metadata().size());
  const std::size_t max_items = all ? std::size_t(-1) : 8;
  for (const auto& e : f.metadata())
    std::printf("  %-40s %-16s %s\n", gguf::escape(e.key).c_str(), type_text(e.value).c_str(),
                e.value.to_string(max_items).c_str());
}

void print_tensors(const gguf::file& f) {
  std::printf("  %-40s %-8s %-24s %12s %12s\n", "name", "type", "shape", "offset", "bytes");
  for (const auto& t : f.tensors())
    std::printf("  %-40s %-8s %-24s %12llu %12zu\n", gguf::escape(t.name).c_str(),
                arx::type_name(t.type).c_str(), t.shape.str().c_str(),
                static_cast<unsigned long long>(t.offset), t.nbytes);
}

void print_totals(const gguf::file& f) {
  struct total {
    std::size_t tensors = 0, bytes = 0;
    long long values = 0;
  };
  std::map<std::string, total> by_type;
  total all;
  for (const auto& t : f.tensors()) {
    for (total* x : {&by_type[arx::type_name(t.type)], &all}) {
      x->tensors += 1;
      x->bytes += t.nbytes;
      x->values += t.shape.numel();
    }
  }
  std::printf("totals by type:\n");
  auto line = [](const std::string& name, const total& x) {
    std::printf("  %-8s %6zu tensors %14lld values %14zu bytes\n", name.c_str(), x.tensors,
                x.values, x.bytes);
  };
  for (const auto& [name, x] : by_type) line(name, x);
  line("all", all);
}

}  // namespace

int main(int argc, char** argv) {
  const char* path = nullptr;
  bool tensors = false, all = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!std::strcmp(argv[i], "--tensors")) {
      tensors = true;
    } else if (!std::strcmp(argv[i], "--all")) {
      all = tensors = true;
    } else if (argv[i][0] == '-' || path) {
      std::fprintf(stderr, "gguf-info: unexpected argument '%s'\n", argv[i]);
      usage(stderr);
      return 1;
    } else {
      path = argv[i];
    }
  }
  if (!path) {
    usage(stderr);
    return 1;
  }
  try {
    const auto f = gguf::open(path);
    std::printf("file: %s\n", f.path().c_str());
    std::printf("GGUF version %u, alignment %u, data section at byte %llu, size %llu bytes\n",
                f.version(), f.alignment(), static_cast<unsigned long long>(f.data_offset()),
                static_cast<unsigned long long>(f.size()));
    print_metadata(f, all);
    std::printf("tensors: %zu\n", f.tensors().size());
    if (tensors) print_tensors(f);
    print_totals(f);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gguf-info: %s\n", e.what());
    return 1;
  }
  return 0;
}
