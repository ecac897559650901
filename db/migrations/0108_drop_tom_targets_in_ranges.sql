-- 0108_drop_tom_targets_in_ranges: the cone search's first function (0102),
-- replaced by tom_targets_in_cone (0107). It stayed one release so that a TOM
-- of the code before 0107 could still answer cones during a rolling upgrade;
-- no code calls it since. Its result type is the whole tom_targets row, so
-- keeping it would also tie every later change of that table to it.
drop function if exists tom_targets_in_ranges(bigint[], bigint[]);
