// The agent's durable memory in SQLite: for every synced file, the version the server last committed
// (size, mtime, inode, mode, SHA-256), and for an upload in progress, the offset the server has
// confirmed as durable and the version being sent. Blocking: used by one worker strand only.
//
// Schema history (PRAGMA user_version):
//   1  folders, files
//   2  files.kind: directories and symlinks are recorded too (0 file, 1 directory, 2 symlink)
#pragma once

#include "entry_kind.h"
#include "file_version.h"
#include "result.h"
#include "sha256.h"
#include "sqlite_handles.h"
#include "unique_fd.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

namespace minisync::agent {

// Everything the database knows about one folder, by relative path.
using FolderRecords = std::unordered_map<std::string, struct FileRecord>;

struct FileRecord {
    EntryKind kind = EntryKind::File;
    std::optional<FileVersion> committed;
    std::uint32_t mode = 0;
    std::optional<Sha256Digest> sha256; // of the committed version
    // An upload in progress: the version being sent and the bytes the server holds durably.
    std::optional<FileVersion> uploading;
    std::uint64_t confirmed_offset = 0;
};

struct StateChange {
    // Renamed: the server moved from to path, with everything below; what was at path is replaced.
    enum class Kind { Committed, Progress, Forgotten, ForgottenTree, Renamed };
    Kind kind = Kind::Committed;
    std::int64_t folder_id = 0;
    std::string path;
    std::string from;             // Renamed only
    EntryKind entry = EntryKind::File; // Committed only
    FileVersion version;
    std::uint32_t mode = 0;
    Sha256Digest sha256{};
    std::uint64_t offset = 0; // Progress only
};

class StateStore {
public:
    // Opens or creates the database. On failure the message names the file and says how to recover; the
    // code is DamagedState when the file is not a usable database (garbage, corruption) and rebuilding it
    // is the cure, State otherwise (a newer schema, a missing directory, a transient I/O error: the file
    // must be left alone).
    static Result<std::unique_ptr<StateStore>> open(const std::string& path);

    StateStore(const StateStore&) = delete;
    StateStore& operator=(const StateStore&) = delete;

    // The id of the folder with this name, created on first use.
    std::int64_t folder_id(const std::string& name);
    std::unordered_map<std::string, FileRecord> load_folder(std::int64_t folder_id);
    // The records of path and everything below it.
    std::unordered_map<std::string, FileRecord> load_subtree(std::int64_t folder_id, const std::string& path);
    // All changes in one transaction. Returns the error text on failure (nothing is applied then).
    std::optional<std::string> apply(const std::vector<StateChange>& changes);

private:
    StateStore(SqlitePtr db, std::string path, UniqueFd lock);
    std::optional<std::string> exec(const char* sql);
    std::unordered_map<std::string, FileRecord> load(std::int64_t folder_id, const std::string* subtree);
    std::optional<std::string> apply_one(const StateChange& change);
    sqlite3_stmt* prepare(SqliteStmtPtr& slot, const char* sql);

    SqlitePtr db_;
    std::string path_;
    // An exclusive flock on the database file: a second agent on the same state is refused at start.
    UniqueFd lock_;
    SqliteStmtPtr upsert_committed_;
    SqliteStmtPtr upsert_progress_;
    SqliteStmtPtr delete_file_;
    SqliteStmtPtr delete_tree_;
    SqliteStmtPtr rename_tree_;
};

} // namespace minisync::agent
