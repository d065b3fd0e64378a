-- A drift table made before findings had a lifecycle: the column saying what each row is.
ALTER TABLE {{ drift_table }} ADD COLUMN state TEXT
