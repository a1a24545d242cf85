-- Packed blocks (issue 28; logsvc.store.packing): a sealed block keeps its entries
-- zlib-compressed in ``packed`` (about a quarter of their JSON) and ``[]`` in ``entries``.
-- Its documents and time summary are computed from the plain entries before it is packed,
-- in the same transaction; readers unpack it in Python. Blocks sealed before this
-- migration stay as they are.
ALTER TABLE log_blocks ADD COLUMN packed BLOB;
