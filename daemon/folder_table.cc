// Lookups over the folder table: selection by name, running folders, the paused state, reported states.
#include "folder_table.h"

#include <algorithm>

namespace minisync::agent {

std::string_view folder_state_name(const Folder& folder, bool has_work) noexcept
{
    switch (folder.root_state) {
    case RootVerdict::State::Missing: return "missing";
    case RootVerdict::State::Suspended: return "suspended";
    case RootVerdict::State::Present: break;
    }
    if (folder.paused) {
        return "paused";
    }
    return has_work ? "syncing" : "idle";
}

std::size_t FolderTable::append(Folder folder)
{
    folders_.push_back(std::move(folder));
    return folders_.size() - 1;
}

std::vector<std::size_t> FolderTable::select(const std::optional<std::string>& name) const
{
    std::vector<std::size_t> selected;
    for (std::size_t index = 0; index < folders_.size(); ++index) {
        const Folder& folder = folders_[index];
        if (!folder.removed && (!name || folder.spec.name == *name)) {
            selected.push_back(index);
        }
    }
    return selected;
}

std::vector<std::string> FolderTable::names_of(const std::vector<std::size_t>& indices) const
{
    std::vector<std::string> names;
    for (const std::size_t index : indices) {
        names.push_back(folders_.at(index).spec.name);
    }
    return names;
}

std::optional<std::size_t> FolderTable::find_running(const std::string& name, const std::string& path) const
{
    for (std::size_t index = 0; index < folders_.size(); ++index) {
        const Folder& folder = folders_[index];
        if (!folder.removed && folder.spec.name == name && folder.spec.path == path) {
            return index;
        }
    }
    return std::nullopt;
}

bool FolderTable::all_paused() const
{
    return std::all_of(folders_.begin(), folders_.end(),
                       [](const Folder& folder) { return folder.removed || folder.paused; });
}

} // namespace minisync::agent
