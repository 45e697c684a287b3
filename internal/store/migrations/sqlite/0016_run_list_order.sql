-- Runs are listed newest first, by creation time and then ID, and paged
-- after the last run shown: with the ID in the project index, a page reads
-- its rows in index order and stops. Before, pages were ordered by ID
-- alone, and the database sorted every run of the project for each page
-- (a temporary B-tree in SQLite's plan; 85 pages a second at 5000 runs in
-- bench/console). Same number of indexes, so writing a run costs the same.
DROP INDEX runs_project_idx;
CREATE INDEX runs_project_idx ON runs(project_id, created_at, id);
