-- The column the project keeps beside the contract's: the status a claimed row returns to.
ALTER TABLE {{ table }} ADD COLUMN previous_status TEXT
