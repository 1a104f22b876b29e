-- Booked bank statement entries of every bank source.
SELECT b.*, now() AS _loaded_at
FROM ({{ union('bank_lines') }}) AS b
