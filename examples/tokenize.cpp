// tokenize: prints the token ids of a text under a GGUF model's vocabulary.
//
//   tokenize -m model.gguf "Hello world"       ->  15043 3186
//   tokenize -m model.gguf -f prompt.txt --bos
//
// Only the vocabulary (tokenizer.ggml.* metadata) is read, so vocab-only GGUF files work too.
// By default no BOS is added and special-token text ("<s>") is ordinary text — the convention of
// llama.cpp's vocab test suites (tokenize(text, add_special = false, parse_special = false)).
// Exit codes: 0 done, 1 an error from arx (bad file, invalid UTF-8, ...), 2 bad arguments.
#include "cli.hpp"

#include <arx/core/error.hpp>
#include <arx/io/gguf.hpp>
#include <arx/tokenizer/tokenizer.hpp>
#include <arx/tokenizer/vocab.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

void usage(std::FILE* out) {
  std::fputs(
      "usage: tokenize -m MODEL.gguf (TEXT | -f FILE) [--bos] [--special] [--]\n"
      "Prints the token ids of TEXT (or of FILE's bytes, exactly as they are) on one line,\n"
      "separated by spaces.\n"
      "  -m, --model FILE  GGUF file with a SentencePiece ('llama') or byte-level BPE ('gpt2')\n"
      "                    vocabulary\n"
      "  -f, --file FILE   tokenize the content of FILE\n"
      "      --bos         put the BOS token first (default: no BOS)\n"
      "      --special     parse control-token text such as <s> as those tokens (default: it\n"
      "                    is ordinary text)\n"
      "  --                the next argument is the TEXT even if it starts with '-'\n"
      "  -h, --help        show this text\n"
      "Exit status: 0 success, 1 error (message on stderr), 2 bad arguments.\n",
      out);
}

using arx_cli::usage_error;

struct options {
  std::string model, text, file;
  bool have_text = false, have_file = false, bos = false, special = false;
};

bool parse(int argc, char** argv, options& o) {
  bool options_end = false;  // after "--", every argument is text
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (options_end || a.size() <= 1 || a[0] != '-') {
      if (o.have_text) throw usage_error{"more than one text given: '" + std::string(a) + "'"};
      o.text = a, o.have_text = true;
      continue;
    }
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) throw usage_error{"option " + std::string(a) + " needs a value"};
      return argv[++i];
    };
    if (a == "-h" || a == "--help") return false;
    if (a == "--") options_end = true;
    else if (a == "-m" || a == "--model") o.model = value();
    else if (a == "-f" || a == "--file") o.file = value(), o.have_file = true;
    else if (a == "--bos") o.bos = true;
    else if (a == "--special") o.special = true;
    else throw usage_error{"unknown option '" + std::string(a) + "'"};
  }
  if (o.model.empty()) throw usage_error{"no model given (-m FILE)"};
  if (o.have_text == o.have_file) throw usage_error{"give either a TEXT or -f FILE"};
  return true;
}

// llama.cpp's parse_special for SentencePiece vocabs: control and unknown tokens written in the
// text are cut out first (longest text first, each left to right) and emitted as themselves;
// each run of text between them is encoded on its own (so it gets the space prefix again, as
// after any special token in llama.cpp). Per-token lstrip/rstrip attributes are not modelled.
std::vector<std::int32_t> encode_special(const arx::tokenizer& tok, std::string_view text,
                                         bool bos) {
  const auto& v = tok.vocab();
  std::vector<std::int32_t> specials;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto t = v.type(std::int32_t(i));
    if (t == arx::token_type::control || t == arx::token_type::unknown)
      specials.push_back(std::int32_t(i));
  }
  std::stable_sort(specials.begin(), specials.end(),
                   [&](auto a, auto b) { return v.text(a).size() > v.text(b).size(); });
  struct part {
    std::string_view text;
    std::int32_t id;  // >= 0: a special token
  };
  std::vector<part> parts{{text, -1}};
  for (const std::int32_t s : specials) {
    const std::string& st = v.text(s);
    std::vector<part> next;
    for (const part& p : parts) {
      if (p.id >= 0) {
        next.push_back(p);
        continue;
      }
      std::size_t pos = 0;
      for (std::size_t hit; (hit = p.text.find(st, pos)) != std::string_view::npos;) {
        if (hit > pos) next.push_back({p.text.substr(pos, hit - pos), -1});
        next.push_back({{}, s});
        pos = hit + st.size();
      }
      if (pos < p.text.size()) next.push_back({p.text.substr(pos), -1});
    }
    parts = std::move(next);
  }
  std::vector<std::int32_t> out = tok.encode({}, bos);
  for (const part& p : parts) {
    if (p.id >= 0) {
      out.push_back(p.id);
    } else {
      const auto ids = tok.encode(p.text, false);
      out.insert(out.end(), ids.begin(), ids.end());
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  return arx_cli::main<options>("tokenize", argc, argv, parse, usage, [](const options& o) {
    const auto tok = arx::tokenizer::from_gguf(arx::gguf::open(o.model));
    const std::string text = o.have_file ? arx_cli::read_file(o.file) : o.text;
    const auto ids = !o.special   ? tok.encode(text, o.bos)
                     : tok.is_bpe() ? tok.encode(text, o.bos, true)
                                    : encode_special(tok, text, o.bos);
    std::string line;
    for (std::size_t i = 0; i < ids.size(); ++i)
      line += (i ? " " : "") + std::to_string(ids[i]);
    line += '\n';
    if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() || std::fflush(stdout) != 0) {
      std::fprintf(stderr, "error: writing to stdout failed\n");
      return 1;
    }
    return 0;
  });
}
