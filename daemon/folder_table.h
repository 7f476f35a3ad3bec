// Everything the agent knows about each watched folder, one Folder per folder, shared by the components
// that act on folders (watcher, scheduler, ledger, control, reload) instead of a vector each. Loop thread
// only: a worker task that needs a folder's data (its root, its exclude filter) gets a copy.
//
// Folders are only ever appended: a reload adds new ones at the end, and a removed one keeps its index,
// marked removed. So a folder's index (SyncItem::folder, the watch table's folder) names the same folder
// for the agent's lifetime, and a Folder& stays valid across appends.
#pragma once

#include "agent_settings.h"
#include "exclude_filter.h"
#include "folder_root.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace minisync::agent {

struct Folder {
    FolderSpec spec;
    // The state database's id; 0 for a folder added by a reload until the database has given it one
    // (it stays paused until then).
    std::int64_t state_id = 0;
    // Its root: the path and the identity lookups hold to (a directory that no longer matches is never
    // read from), and the identity recorded in the state database (none before the root was first seen).
    FolderRoot root;
    std::optional<RootIdentity> recorded_root;
    // Whether that root is there to be synced. A missing or suspended folder is neither watched nor sent
    // (what is queued for it is held), and nothing of it is removed on the server; root_problem says why.
    RootVerdict::State root_state = RootVerdict::State::Present;
    std::string root_problem;
    // No longer in the configuration (a reload); nothing is watched or sent for it any more.
    bool removed = false;
    // minisyncctl pause: changes are kept, not sent (RequestScheduler).
    bool paused = false;

    // FolderWatcher's: whether watching has started (a folder added by a reload is watched once its
    // records are loaded), the filter of global plus own excludes, and what keeps the folder from being
    // watched completely (empty when nothing does), with whether that is the inotify watch limit.
    bool watched = false;
    // Counts the times watching stopped: a scan started before is stale and what it found is dropped.
    std::uint64_t watch_epoch = 0;
    std::shared_ptr<const ExcludeFilter> exclude_filter;
    bool watch_limited = false;
    std::string error;

    // Nothing of it is sent now: paused by minisyncctl, or its root is not there.
    [[nodiscard]] bool held() const noexcept { return paused || root_state != RootVerdict::State::Present; }
};

// The states a folder is reported in (status `folders[].state`, minisync_folder_state): syncing or idle
// while its root is there and it is not paused, by whether anything of it waits to be sent.
inline constexpr std::string_view folder_state_names[] = {"syncing", "idle", "paused", "missing", "suspended"};
[[nodiscard]] std::string_view folder_state_name(const Folder& folder, bool has_work) noexcept;

class FolderTable {
public:
    // Components keep a reference to the one table: it moves only while being built.
    FolderTable() = default;
    FolderTable(FolderTable&&) = default;
    FolderTable(const FolderTable&) = delete;
    FolderTable& operator=(const FolderTable&) = delete;

    // Returns the new folder's index.
    std::size_t append(Folder folder);

    [[nodiscard]] std::size_t size() const noexcept { return folders_.size(); }
    [[nodiscard]] Folder& operator[](std::size_t index) { return folders_.at(index); }
    [[nodiscard]] const Folder& operator[](std::size_t index) const { return folders_.at(index); }
    [[nodiscard]] auto begin() { return folders_.begin(); }
    [[nodiscard]] auto end() { return folders_.end(); }
    [[nodiscard]] auto begin() const { return folders_.begin(); }
    [[nodiscard]] auto end() const { return folders_.end(); }

    // The folders a control request names, removed ones never: the one called name, or all without a
    // name. Empty when no folder has that name.
    [[nodiscard]] std::vector<std::size_t> select(const std::optional<std::string>& name) const;
    [[nodiscard]] std::vector<std::string> names_of(const std::vector<std::size_t>& indices) const;
    // The folder that is not removed and has this name and path, if any: a reload keeps it running.
    [[nodiscard]] std::optional<std::size_t> find_running(const std::string& name, const std::string& path) const;
    // Every folder not removed is paused (true when there is none): the agent as a whole is paused.
    [[nodiscard]] bool all_paused() const;

private:
    // A deque, so references to a Folder survive appends.
    std::deque<Folder> folders_;
};

} // namespace minisync::agent
