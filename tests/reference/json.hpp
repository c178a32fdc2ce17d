// A minimal JSON reader for the golden files of ../shared/reference (objects, arrays, strings,
// numbers, literals). Not a validator: the golden files are well-formed, written by Python's json.
// A missing key FAILs the running Catch2 test, naming the key.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace arx_test {

struct json {
  enum kind_t { null, boolean, number, string, array, object } kind = null;
  double num = 0;
  std::string str;
  std::vector<json> items;
  std::map<std::string, json> fields;
  const json& operator[](const std::string& k) const {
    auto it = fields.find(k);
    if (it == fields.end()) FAIL("JSON key " << k << " missing");
    return it->second;
  }
  bool has(const std::string& k) const { return fields.count(k) != 0; }
};

struct json_parser {
  std::string_view s;
  std::size_t i = 0;
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
  }
  static void put_utf8(std::string& o, std::uint32_t c) {
    if (c < 0x80) {
      o += char(c);
    } else if (c < 0x800) {
      o += char(0xc0 | (c >> 6));
      o += char(0x80 | (c & 63));
    } else if (c < 0x10000) {
      o += char(0xe0 | (c >> 12));
      o += char(0x80 | ((c >> 6) & 63));
      o += char(0x80 | (c & 63));
    } else {
      o += char(0xf0 | (c >> 18));
      o += char(0x80 | ((c >> 12) & 63));
      o += char(0x80 | ((c >> 6) & 63));
      o += char(0x80 | (c & 63));
    }
  }
  std::uint32_t hex4() {
    const std::uint32_t v = std::uint32_t(std::stoul(std::string(s.substr(i, 4)), nullptr, 16));
    i += 4;
    return v;
  }
  std::string str() {
    std::string o;
    ++i;  // opening quote
    while (s[i] != '"') {
      if (s[i] != '\\') {
        o += s[i++];
        continue;
      }
      const char e = s[i + 1];
      i += 2;
      switch (e) {
        case 'n': o += '\n'; break;
        case 't': o += '\t'; break;
        case 'r': o += '\r'; break;
        case 'b': o += '\b'; break;
        case 'f': o += '\f'; break;
        case 'u': {
          std::uint32_t c = hex4();
          if (c >= 0xd800 && c < 0xdc00 && s.substr(i, 2) == "\\u") {
            i += 2;
            const std::uint32_t lo = hex4();
            c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
          }
          put_utf8(o, c);
          break;
        }
        default: o += e;
      }
    }
    ++i;
    return o;
  }
  json value() {
    ws();
    json v;
    if (s[i] == '{') {
      v.kind = json::object;
      ++i;
      ws();
      if (s[i] == '}') return ++i, v;
      for (;;) {
        ws();
        std::string k = str();
        ws();
        ++i;  // ':'
        v.fields[k] = value();
        ws();
        if (s[i++] == '}') break;
      }
    } else if (s[i] == '[') {
      v.kind = json::array;
      ++i;
      ws();
      if (s[i] == ']') return ++i, v;
      for (;;) {
        v.items.push_back(value());
        ws();
        if (s[i++] == ']') break;
      }
    } else if (s[i] == '"') {
      v.kind = json::string;
      v.str = str();
    } else if (s.substr(i, 4) == "true" || s.substr(i, 4) == "null") {
      v.kind = s[i] == 't' ? json::boolean : json::null;
      v.num = s[i] == 't';
      i += 4;
    } else if (s.substr(i, 5) == "false") {
      v.kind = json::boolean;
      i += 5;
    } else {
      v.kind = json::number;
      std::size_t used = 0;
      v.num = std::stod(std::string(s.substr(i, 40)), &used);
      i += used;
    }
    return v;
  }
};

inline json parse_json(const std::string& text) {
  json_parser p{text};
  return p.value();
}

}  // namespace arx_test
