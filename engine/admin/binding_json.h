// JSON for bindings, shared by the admin socket's lookup and dump answers.
#ifndef LOCUS_ENGINE_ADMIN_BINDING_JSON_H_
#define LOCUS_ENGINE_ADMIN_BINDING_JSON_H_

#include <cstdint>
#include <string>

#include "store/aor_record.h"
#include "store/binding.h"

namespace locus::engine {

// {"aor":...,"contact":...,"expires":seconds left,"q":0.5,"call_id":...,
//  "cseq":N,"source":"ip:port","transport":"UDP","user_agent":...,
//  "instance":...,"reg_id":N,"path":...,"registered_at":epoch,"refreshed_at":epoch}
void AppendBindingJson(const store::AorRecord& record, const store::Binding& binding, uint32_t now,
                       std::string* out);

// Appends `text` as a JSON string literal, quotes included.
void AppendJsonString(std::string_view text, std::string* out);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_ADMIN_BINDING_JSON_H_
