// Noting, moving and handing out the directories to settle.
#include "directory_settler.h"

#include <algorithm>

namespace minisync::agent {
namespace {

std::string parent_of(const std::string& path)
{
    const std::size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string{} : path.substr(0, slash);
}

} // namespace

void DirectorySettler::note_changed(std::size_t folder, const std::string& path)
{
    // Every directory above, not only the parent: the server may have had to create some of them on the
    // way, which moved the mtime of the one above. The folder's own root is not mirrored.
    for (std::string parent = parent_of(path); !parent.empty(); parent = parent_of(parent)) {
        if (!dirs_.emplace(folder, parent).second) {
            break; // its ancestors were noted with it
        }
    }
}

void DirectorySettler::follow_rename(std::size_t folder, const std::string& from, const std::string& to)
{
    std::vector<std::pair<std::size_t, std::string>> moved;
    for (auto dir = dirs_.begin(); dir != dirs_.end();) {
        if (dir->first == folder && paths_overlap(dir->second, from) && dir->second.size() >= from.size()) {
            moved.emplace_back(dir->first, to + dir->second.substr(from.size()));
            dir = dirs_.erase(dir);
        } else {
            ++dir;
        }
    }
    dirs_.insert(moved.begin(), moved.end());
}

std::vector<SyncItem> DirectorySettler::take()
{
    // Deepest first: setting a directory's attributes never moves its parent's mtime, but making a missing
    // one does, so a parent waits for the directories below it.
    std::vector<std::pair<std::size_t, std::string>> dirs(dirs_.begin(), dirs_.end());
    dirs_.clear();
    auto depth = [](const std::string& path) { return std::count(path.begin(), path.end(), '/'); };
    std::stable_sort(dirs.begin(), dirs.end(),
                     [&](const auto& a, const auto& b) { return depth(a.second) > depth(b.second); });
    std::vector<SyncItem> items;
    items.reserve(dirs.size());
    for (auto& [folder, path] : dirs) {
        SyncItem item;
        item.folder = folder;
        item.path = std::move(path);
        item.settle = true;
        items.push_back(std::move(item));
    }
    return items;
}

} // namespace minisync::agent
