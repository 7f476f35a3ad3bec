// The agent's durable memory in SQLite: for every synced file, the version the server last committed
// (size, mtime, inode, mode, SHA-256), and for an upload in progress, the offset the server has
// confirmed as durable and the version being sent. Blocking: used by one worker strand only.
//
// Schema history (PRAGMA user_version):
//   1  folders, files
//   2  files.kind: directories and symlinks are recorded too (0 file, 1 directory, 2 symlink)
//   3  folders.root_device, root_inode, root_birth_ns: the identity of each folder's root directory
#pragma once

#include "entry_kind.h"
#include "file_version.h"
#include "folder_root.h"
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
    // ForgottenFolder: every record of the folder goes (its root was replaced by an accepted one).
    enum class Kind { Committed, Progress, Forgotten, ForgottenTree, ForgottenFolder, Renamed };
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

// A folder as the database knows it: its id and its root's identity, if one was recorded.
struct StoredFolder {
    std::int64_t id = 0;
    std::optional<RootIdentity> root;
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

    // Every operation below fails with code State (DamagedState when SQLite finds the file corrupt) and a
    // message naming the database and SQLite's reason; a failed one has changed nothing.

    // The id of the folder with this name, created on first use.
    Result<std::int64_t> folder_id(const std::string& name);
    // The folder's id (created on first use) and the identity of its root as last recorded.
    Result<StoredFolder> open_folder(const std::string& name);
    // The identity of the folder's root as last recorded; none before the first (or with schema < 3).
    Result<std::optional<RootIdentity>> root_identity(std::int64_t folder_id);
    Result<void> set_root_identity(std::int64_t folder_id, RootIdentity identity);
    // Every record of the folder; never a part of them.
    Result<FolderRecords> load_folder(std::int64_t folder_id);
    // The records of path and everything below it.
    Result<FolderRecords> load_subtree(std::int64_t folder_id, const std::string& path);
    // All changes in one transaction: all of them or none.
    Result<void> apply(const std::vector<StateChange>& changes);

private:
    StateStore(SqlitePtr db, std::string path, UniqueFd lock);
    // SQLite's last error on this connection, as the message for what was being done.
    Error failure(const std::string& doing) const;
    Result<void> exec(const char* sql);
    Result<FolderRecords> load(std::int64_t folder_id, const std::string* subtree);
    Result<void> apply_one(const StateChange& change);
    // The statement in slot, prepared on first use; null when SQLite refused it (see failure()).
    sqlite3_stmt* prepare(SqliteStmtPtr& slot, const char* sql);

    SqlitePtr db_;
    std::string path_;
    // An exclusive flock on the database file: a second agent on the same state is refused at start.
    UniqueFd lock_;
    SqliteStmtPtr upsert_committed_;
    SqliteStmtPtr upsert_progress_;
    SqliteStmtPtr delete_file_;
    SqliteStmtPtr delete_tree_;
    SqliteStmtPtr delete_folder_;
    SqliteStmtPtr rename_tree_;
};

} // namespace minisync::agent
