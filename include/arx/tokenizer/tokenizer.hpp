// arx/tokenizer/tokenizer.hpp — the tokenizer a GGUF file asks for, behind one type:
// SentencePiece (`tokenizer.ggml.model = "llama"`, spm.hpp) or byte-level BPE ("gpt2", bpe.hpp).
//
//   const auto tok = arx::tokenizer::from_gguf(model.weights().file());
//   auto ids = tok.encode(text, tok.vocab().add_bos());      // parse_special: BPE only
//   std::string s = tok.decode(ids);
//
// Any other tokenizer.ggml.model is an unsupported_error naming it. arx::detokenizer and
// arx::generate take this type as they take the concrete ones.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/io/gguf.hpp"
#include "arx/tokenizer/bpe.hpp"
#include "arx/tokenizer/spm.hpp"
#include "arx/tokenizer/vocab.hpp"

ARX_NAMESPACE_BEGIN

class tokenizer {
 public:
  explicit tokenizer(spm_tokenizer t) : t_(std::move(t)) {}
  explicit tokenizer(bpe_tokenizer t) : t_(std::move(t)) {}

  static tokenizer from_gguf(const gguf::file& f) {
    const std::string_view model = f.get_or<std::string_view>("tokenizer.ggml.model", "llama");
    if (model == "llama") return tokenizer(spm_tokenizer::from_gguf(f));
    if (model == "gpt2") return tokenizer(bpe_tokenizer::from_gguf(f));
    throw unsupported_error(f.path() + ": tokenizer.ggml.model '" + gguf::escape(model, 64) +
                            "' is not supported (supported: llama, gpt2)");
  }

  const arx::vocab& vocab() const noexcept {
    return std::visit([](const auto& t) -> const arx::vocab& { return t.vocab(); }, t_);
  }
  bool is_bpe() const noexcept { return std::holds_alternative<bpe_tokenizer>(t_); }

  /// Token ids of `text`, BOS first when `add_bos`. `parse_special` (control tokens such as
  /// <|im_start|> written in the text become their ids) is implemented for BPE vocabularies;
  /// asking for it with a SentencePiece one is an unsupported_error.
  std::vector<std::int32_t> encode(std::string_view text, bool add_bos,
                                   bool parse_special = false) const {
    if (const auto* b = std::get_if<bpe_tokenizer>(&t_))
      return b->encode(text, add_bos, parse_special);
    if (parse_special)
      throw unsupported_error("tokenizer::encode: parse_special is implemented for BPE "
                              "vocabularies only");
    return std::get<spm_tokenizer>(t_).encode(text, add_bos);
  }
  std::string piece(std::int32_t id, bool special = false) const {
    return std::visit([&](const auto& t) { return t.piece(id, special); }, t_);
  }
  std::string decode(std::span<const std::int32_t> ids, bool special = false) const {
    return std::visit([&](const auto& t) { return t.decode(ids, special); }, t_);
  }
  std::string decode(std::initializer_list<std::int32_t> ids, bool special = false) const {
    return decode(std::span<const std::int32_t>(ids.begin(), ids.size()), special);
  }

 private:
  std::variant<spm_tokenizer, bpe_tokenizer> t_;
};

ARX_NAMESPACE_END
