// The new path sent as new, and the old one removed after it.
#include "rename_fallback.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace minisync::agent {

RenameFallback::RenameFallback(Compare compare, WhenSettled when_settled, Remove remove, FolderName folder_name)
    : compare_{std::move(compare)},
      when_settled_{std::move(when_settled)},
      remove_{std::move(remove)},
      folder_name_{std::move(folder_name)}
{
}

void RenameFallback::start(const SyncItem& rename)
{
    compare(rename, 1);
}

void RenameFallback::compare(SyncItem rename, std::uint32_t comparisons)
{
    std::string path = rename.path;
    const std::size_t folder = rename.folder;
    compare_(folder, std::move(path), [this, rename = std::move(rename), comparisons](bool in_place) mutable {
        compared(std::move(rename), comparisons, in_place);
    });
}

void RenameFallback::compared(SyncItem rename, std::uint32_t comparisons, bool in_place)
{
    const std::string& folder = folder_name_(rename.folder);
    if (in_place) {
        SPDLOG_INFO("folder={} path={}: in place on the server; removing the old path {} there", folder, rename.path,
                    rename.from);
        remove_(removal_item(rename.folder, rename.from, rename.tree));
        return;
    }
    if (comparisons >= MaxComparisons) {
        SPDLOG_WARN("folder={} path={}: not found in place on the server after {} comparisons; the old path {} is "
                    "left there (a copy; the next start of the agent removes it)",
                    folder, rename.path, comparisons, rename.from);
        return;
    }
    SPDLOG_DEBUG("folder={} path={}: the old path {} stays on the server until this one is in place", folder,
                 rename.path, rename.from);
    const std::size_t folder_index = rename.folder;
    std::string path = rename.path;
    when_settled_(folder_index, std::move(path), [this, rename = std::move(rename), comparisons]() mutable {
        compare(std::move(rename), comparisons + 1);
    });
}

} // namespace minisync::agent
