#include "store/durable_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "store/journal_record.h"

namespace locus::store {
namespace {

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::InternalError(std::string(what) + " " + path + ": " + std::strerror(errno));
}

// Closes a file descriptor at the end of a scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("write", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Writes `data` to `path` durably: path.tmp, fdatasync, rename, directory fsync.
absl::Status ReplaceFile(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  {
    Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
    if (fd.get() < 0) return Errno("open", tmp);
    if (absl::Status s = WriteAll(fd.get(), data, tmp); !s.ok()) return s;
    if (fdatasync(fd.get()) != 0) return Errno("fdatasync", tmp);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename", tmp);
  return SyncDirectory(path.substr(0, path.rfind('/') + 1));
}

// "<shard>-<seq>.<kind>": the shard and number, when `name` is such a file.
bool ParseName(std::string_view name, int shard, std::string_view kind, uint64_t* seq) {
  const std::string prefix = std::to_string(shard) + "-";
  if (!name.starts_with(prefix) || !name.ends_with(kind)) return false;
  name.remove_suffix(kind.size());
  if (!name.ends_with('.')) return false;
  name.remove_suffix(1);
  const std::string_view digits = name.substr(prefix.size());
  if (digits.empty() || digits.size() > 18) return false;
  uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  *seq = value;
  return true;
}

// A whole file mapped read-only.
class MappedFile {
 public:
  ~MappedFile() {
    if (data_ != nullptr) munmap(data_, size_);
  }
  absl::Status Open(const std::string& path) {
    Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return Errno("open", path);
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return Errno("stat", path);
    size_ = static_cast<size_t>(st.st_size);
    if (size_ == 0) return absl::OkStatus();
    void* data = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd.get(), 0);
    if (data == MAP_FAILED) {
      size_ = 0;
      return Errno("mmap", path);
    }
    data_ = data;
    madvise(data_, size_, MADV_SEQUENTIAL);
    return absl::OkStatus();
  }
  std::string_view view() const { return {static_cast<const char*>(data_), size_}; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

absl::StatusOr<std::optional<Generation>> ReadCurrent(const std::string& dir) {
  const std::string path = dir + "/CURRENT";
  FILE* f = fopen(path.c_str(), "re");
  if (f == nullptr) {
    if (errno == ENOENT) return std::optional<Generation>();
    return Errno("open", path);
  }
  unsigned long long number = 0;
  int shards = 0;
  const int fields = fscanf(f, "%llu %d", &number, &shards);
  fclose(f);
  if (fields != 2 || number == 0 || shards <= 0) {
    return absl::DataLossError(path + ": not \"<generation> <shards>\"");
  }
  return std::optional<Generation>(Generation{number, shards});
}

absl::Status WriteCurrent(const std::string& dir, Generation generation) {
  return ReplaceFile(dir + "/CURRENT", std::to_string(generation.number) + " " +
                                           std::to_string(generation.shards) + "\n");
}

std::string GenerationDir(const std::string& dir, uint64_t generation) {
  return dir + "/gen-" + std::to_string(generation);
}

std::string SnapshotPath(const std::string& generation_dir, int shard, uint64_t seq) {
  char name[64];
  snprintf(name, sizeof(name), "/%d-%06" PRIu64 ".snapshot", shard, seq);
  return generation_dir + name;
}

std::string JournalPath(const std::string& generation_dir, int shard, uint64_t seq) {
  char name[64];
  snprintf(name, sizeof(name), "/%d-%06" PRIu64 ".journal", shard, seq);
  return generation_dir + name;
}

absl::StatusOr<ShardFiles> ListShardFiles(const std::string& generation_dir, int shard) {
  DIR* d = opendir(generation_dir.c_str());
  if (d == nullptr) return Errno("opendir", generation_dir);
  std::vector<uint64_t> snapshots;
  std::vector<uint64_t> journals;
  ShardFiles files;
  const std::string prefix = std::to_string(shard) + "-";
  while (dirent* entry = readdir(d)) {
    const std::string_view name = entry->d_name;
    uint64_t seq = 0;
    if (ParseName(name, shard, "snapshot", &seq)) {
      snapshots.push_back(seq);
    } else if (ParseName(name, shard, "journal", &seq)) {
      journals.push_back(seq);
    } else if (name.starts_with(prefix) && name.ends_with(".tmp")) {
      files.obsolete.push_back(generation_dir + "/" + std::string(name));
    }
  }
  closedir(d);
  std::sort(snapshots.begin(), snapshots.end());
  std::sort(journals.begin(), journals.end());
  files.snapshot = snapshots.empty() ? 0 : snapshots.back();
  for (uint64_t seq : snapshots) {
    if (seq != files.snapshot) files.obsolete.push_back(SnapshotPath(generation_dir, shard, seq));
    files.last_seq = std::max(files.last_seq, seq);
  }
  for (uint64_t seq : journals) {
    if (seq >= files.snapshot) {
      files.journals.push_back(seq);
    } else {
      files.obsolete.push_back(JournalPath(generation_dir, shard, seq));
    }
    files.last_seq = std::max(files.last_seq, seq);
  }
  return files;
}

uint64_t ShardFilesBytes(const std::string& generation_dir, int shard, const ShardFiles& files) {
  std::vector<std::string> paths;
  if (files.snapshot != 0) paths.push_back(SnapshotPath(generation_dir, shard, files.snapshot));
  for (uint64_t seq : files.journals) paths.push_back(JournalPath(generation_dir, shard, seq));
  uint64_t total = 0;
  for (const std::string& path : paths) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_size);
  }
  return total;
}

absl::StatusOr<LoadStats> LoadShard(const std::string& generation_dir, int shard,
                                    const ShardFiles& files, bool repair, RecordSink sink) {
  LoadStats stats;
  std::vector<std::string> paths;
  if (files.snapshot != 0) paths.push_back(SnapshotPath(generation_dir, shard, files.snapshot));
  for (uint64_t seq : files.journals) paths.push_back(JournalPath(generation_dir, shard, seq));

  std::string aor;
  std::vector<Binding> bindings;
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    const bool journal = !(i == 0 && files.snapshot != 0);
    MappedFile file;
    if (absl::Status s = file.Open(path); !s.ok()) return s;
    RecordReader reader(file.view());
    while (reader.Next(&aor, &bindings)) {
      ++stats.records;
      sink(aor, std::move(bindings));
      bindings.clear();
    }
    stats.bytes += reader.valid_bytes();
    if (journal) stats.journal_bytes += reader.valid_bytes();
    if (!reader.corrupt()) continue;

    // The first damaged record: it and everything after it are discarded.
    stats.damaged = true;
    stats.damaged_file = path;
    stats.damaged_offset = reader.valid_bytes();
    stats.discarded_bytes = file.view().size() - reader.valid_bytes();
    for (size_t k = i + 1; k < paths.size(); ++k) {
      struct stat st;
      if (stat(paths[k].c_str(), &st) == 0) stats.discarded_bytes += static_cast<uint64_t>(st.st_size);
    }
    if (repair) {
      // Cut the damaged file back to its intact records (a snapshot cut so
      // still holds exactly what was loaded) and drop the files after it.
      if (truncate(path.c_str(), static_cast<off_t>(reader.valid_bytes())) != 0) {
        return Errno("truncate", path);
      }
      for (size_t k = i + 1; k < paths.size(); ++k) {
        if (absl::Status s = RemoveFile(paths[k]); !s.ok()) return s;
      }
      if (absl::Status s = SyncDirectory(generation_dir); !s.ok()) return s;
    }
    break;
  }
  return stats;
}

absl::StatusOr<uint64_t> WriteSnapshotFile(const std::string& path, const BindingTable& table,
                                           uint32_t now) {
  const std::string tmp = path + ".tmp";
  Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  if (fd.get() < 0) return Errno("open", tmp);
  std::string buffer;
  uint64_t written = 0;
  absl::Status status;
  table.ForEach([&](const AorRecord& record) {
    if (!status.ok() || record.EarliestExpiry() == 0) return;
    const AorRecord::Bindings& bindings = record.bindings();
    const bool live = std::any_of(bindings.begin(), bindings.end(),
                                  [now](const Binding& b) { return b.expires_at > now; });
    if (!live) return;
    AppendAorState(record.key(), {bindings.data(), bindings.size()}, &buffer);
    if (buffer.size() >= (1 << 20)) {
      status = WriteAll(fd.get(), buffer, tmp);
      written += buffer.size();
      buffer.clear();
    }
  });
  if (status.ok()) status = WriteAll(fd.get(), buffer, tmp);
  written += buffer.size();
  if (!status.ok()) return status;
  if (fdatasync(fd.get()) != 0) return Errno("fdatasync", tmp);
  if (rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename", tmp);
  if (absl::Status s = SyncDirectory(path.substr(0, path.rfind('/') + 1)); !s.ok()) return s;
  return written;
}

absl::Status RemoveFile(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("unlink", path);
  return absl::OkStatus();
}

absl::Status RemoveGeneration(const std::string& generation_dir) {
  DIR* d = opendir(generation_dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return absl::OkStatus();
    return Errno("opendir", generation_dir);
  }
  std::vector<std::string> names;
  while (dirent* entry = readdir(d)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  closedir(d);
  for (const std::string& name : names) {
    if (absl::Status s = RemoveFile(generation_dir + "/" + name); !s.ok()) return s;
  }
  if (rmdir(generation_dir.c_str()) != 0 && errno != ENOENT) return Errno("rmdir", generation_dir);
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& dir) {
  Fd fd(open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return Errno("open", dir);
  if (fsync(fd.get()) != 0) return Errno("fsync", dir);
  return absl::OkStatus();
}

}  // namespace locus::store
