#include "engine/cluster/resp_pipeline.h"

#include <hiredis/hiredis.h>

namespace locus::engine::cluster {

// A reply bigger than this is not one of ours (the largest is an AOR's
// record, bounded by the store's limits): the reader refuses it.
constexpr size_t kMaxReaderBuffer = 16 * 1024 * 1024;

void ReplyDeleter::operator()(redisReply* reply) const { freeReplyObject(reply); }

namespace {

// RESP2 publish/subscribe: ["message", channel, payload].
bool IsPublishedMessage(const redisReply& reply) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 3) return false;
  const redisReply& kind = *reply.element[0];
  return kind.type == REDIS_REPLY_STRING && std::string_view(kind.str, kind.len) == "message";
}

}  // namespace

RespPipeline::RespPipeline(size_t max_output_bytes, size_t max_in_flight)
    : max_output_bytes_(max_output_bytes), tags_(max_in_flight > 0 ? max_in_flight : 1) {
  ResetStream();
}

RespPipeline::~RespPipeline() {
  if (reader_ != nullptr) redisReaderFree(reader_);
}

void RespPipeline::ResetStream() {
  output_.clear();
  sent_ = 0;
  tags_head_ = 0;
  tags_count_ = 0;
  broken_ = false;
  if (reader_ != nullptr) redisReaderFree(reader_);
  reader_ = redisReaderCreate();
  reader_->maxbuf = kMaxReaderBuffer;
}

bool RespPipeline::Append(std::span<const std::string_view> args, uint64_t tag) {
  if (args.empty() || args.size() > kMaxArgs || tags_count_ == tags_.size()) return false;
  const char* argv[kMaxArgs];
  size_t argvlen[kMaxArgs];
  size_t bytes = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    argv[i] = args[i].data();
    argvlen[i] = args[i].size();
    bytes += args[i].size();
  }
  if (output_.size() - sent_ + bytes > max_output_bytes_) return false;
  char* command = nullptr;
  const int length = redisFormatCommandArgv(&command, static_cast<int>(args.size()), argv, argvlen);
  if (length < 0 || command == nullptr) return false;
  if (sent_ > 0 && sent_ * 2 >= output_.size()) {
    output_.erase(0, sent_);
    sent_ = 0;
  }
  output_.append(command, static_cast<size_t>(length));
  redisFreeCommand(command);
  tags_[(tags_head_ + tags_count_) % tags_.size()] = tag;
  ++tags_count_;
  return true;
}

void RespPipeline::Sent(size_t bytes) {
  sent_ += bytes;
  if (sent_ >= output_.size()) {
    output_.clear();
    sent_ = 0;
  }
}

absl::Status RespPipeline::Feed(std::string_view bytes) {
  if (broken_) return absl::DataLossError("Redis connection: reply without a command");
  if (redisReaderFeed(reader_, bytes.data(), bytes.size()) != REDIS_OK) {
    broken_ = true;
    return absl::DataLossError("Redis connection: reader refused the input");
  }
  return absl::OkStatus();
}

bool RespPipeline::NextReply(uint64_t* tag, Reply* reply) {
  if (broken_) return false;
  void* object = nullptr;
  if (redisReaderGetReply(reader_, &object) != REDIS_OK) {
    broken_ = true;
    return false;
  }
  if (object == nullptr) return false;
  Reply owned(static_cast<redisReply*>(object));
  if (accept_pushes_ && IsPublishedMessage(*owned)) {
    *tag = kPush;  // a subscribed connection's message, between any replies
  } else if (tags_count_ == 0) {
    broken_ = true;
    return false;
  } else {
    *tag = PopTag();
  }
  *reply = std::move(owned);
  return true;
}

uint64_t RespPipeline::PopTag() {
  const uint64_t tag = tags_[tags_head_];
  tags_head_ = (tags_head_ + 1) % tags_.size();
  --tags_count_;
  return tag;
}

}  // namespace locus::engine::cluster
