#include "engine/auth/user_db.h"

#include <algorithm>

#include "engine/text.h"
#include "parser/aor.h"
#include "parser/uri.h"
#include "simdjson.h"

namespace locus::engine {
namespace {

std::string Key(std::string_view username, std::string_view realm) {
  return Cat(username, "\n", realm);
}

bool IsHex(std::string_view s, size_t size) {
  return s.size() == size && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

// Usernames and realms go into quoted-strings and hashes: printable, no quotes.
bool Printable(std::string_view s) {
  return !s.empty() && s.size() <= 256 && std::all_of(s.begin(), s.end(), [](char c) {
           const unsigned char u = static_cast<unsigned char>(c);
           return u >= 0x20 && u != 0x7f && c != '"' && c != '\\';
         });
}

absl::StatusOr<std::string> CanonicalAorText(std::string_view text) {
  sip::Uri uri;
  sip::CanonicalAor aor;
  if (!sip::ParseUri(text, sip::HeaderId::kTo, &uri).ok() || !sip::CanonicalizeAor(uri, &aor).ok()) {
    return absl::InvalidArgumentError(Cat("'", text, "' is not a sip or sips URI"));
  }
  return std::string(aor.view());
}

}  // namespace

bool UserEntry::MayRegister(std::string_view canonical_aor) const {
  return std::find(aors.begin(), aors.end(), canonical_aor) != aors.end();
}

absl::StatusOr<std::shared_ptr<const UserDb>> UserDb::Load(const std::string& path,
                                                           const std::string& default_realm,
                                                           std::vector<std::string>* warnings) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.load(path).get(root)) {
    return absl::InvalidArgumentError(Cat(path, ": cannot read JSON: ", simdjson::error_message(error)));
  }
  simdjson::dom::array users;
  if (root["users"].get(users)) {
    return absl::InvalidArgumentError(Cat(path, ": needs {\"users\": [...]}"));
  }
  auto db = std::make_shared<UserDb>();
  size_t index = 0;
  for (simdjson::dom::element item : users) {
    const std::string where = Cat(path, ": users[", index++, "]");
    simdjson::dom::object object;
    if (item.get(object)) return absl::InvalidArgumentError(Cat(where, ": not an object"));
    UserEntry user;
    std::string password;
    std::vector<std::string_view> aor_texts;
    bool has_password = false;
    for (auto [key, value] : object) {
      std::string_view text;
      if (key == "aors") {
        simdjson::dom::array list;
        if (value.get(list)) return absl::InvalidArgumentError(Cat(where, ": aors must be a list"));
        for (simdjson::dom::element aor : list) {
          if (aor.get(text)) return absl::InvalidArgumentError(Cat(where, ": aors must be strings"));
          aor_texts.push_back(text);
        }
        continue;
      }
      if (value.get(text)) {
        return absl::InvalidArgumentError(Cat(where, ": ", key, " must be a string"));
      }
      if (key == "username") {
        user.username = std::string(text);
      } else if (key == "realm") {
        user.realm = std::string(text);
      } else if (key == "password") {
        password = std::string(text);
        has_password = true;
      } else if (key == "ha1_md5") {
        if (!IsHex(text, 32)) return absl::InvalidArgumentError(Cat(where, ": ha1_md5 must be 32 hex digits"));
        user.ha1_md5 = ToLowerAscii(text);
      } else if (key == "ha1_sha256") {
        if (!IsHex(text, 64)) return absl::InvalidArgumentError(Cat(where, ": ha1_sha256 must be 64 hex digits"));
        user.ha1_sha256 = ToLowerAscii(text);
      } else {
        return absl::InvalidArgumentError(Cat(where, ": unknown key '", key, "'"));
      }
    }
    if (user.realm.empty()) user.realm = default_realm;
    if (!Printable(user.username) || !Printable(user.realm)) {
      return absl::InvalidArgumentError(
          Cat(where, ": username and realm must be 1-256 printable characters without quotes"));
    }
    if (has_password) {
      // HA1 from the plaintext password, for each algorithm not given as HA1.
      if (user.ha1_md5.empty()) {
        user.ha1_md5 = std::string(ComputeHa1(DigestAlgorithm::kMd5, user.username, user.realm, password).view());
      }
      if (user.ha1_sha256.empty()) {
        user.ha1_sha256 = std::string(ComputeHa1(DigestAlgorithm::kSha256, user.username, user.realm, password).view());
      }
      warnings->push_back(Cat(where, " (", user.username, "): plaintext password; prefer ha1_md5/ha1_sha256"));
    }
    if (user.ha1_md5.empty() && user.ha1_sha256.empty()) {
      return absl::InvalidArgumentError(Cat(where, ": needs password, ha1_md5 or ha1_sha256"));
    }
    if (aor_texts.empty()) {
      absl::StatusOr<std::string> own = CanonicalAorText(Cat("sip:", user.username, "@", user.realm));
      if (!own.ok()) {
        return absl::InvalidArgumentError(Cat(where, ": no aors, and sip:", user.username, "@",
                                              user.realm, " is not a valid AOR"));
      }
      user.aors.push_back(*own);
    }
    for (std::string_view text : aor_texts) {
      absl::StatusOr<std::string> aor = CanonicalAorText(text);
      if (!aor.ok()) return absl::InvalidArgumentError(Cat(where, ": aors: ", std::string(aor.status().message())));
      user.aors.push_back(*aor);
    }
    for (const std::string& aor : user.aors) db->aors_.insert(aor);
    std::string key = Key(user.username, user.realm);
    if (!db->users_.emplace(std::move(key), std::move(user)).second) {
      return absl::InvalidArgumentError(Cat(where, ": duplicate username and realm"));
    }
  }
  return std::shared_ptr<const UserDb>(std::move(db));
}

const UserEntry* UserDb::Find(std::string_view username, std::string_view realm) const {
  auto it = users_.find(Key(username, realm));
  return it == users_.end() ? nullptr : &it->second;
}

}  // namespace locus::engine
