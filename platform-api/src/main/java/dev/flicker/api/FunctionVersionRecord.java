package dev.flicker.api;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

/** A published version: an immutable copy of a function's code and configuration (table {@code function_versions}). */
@Entity
@Table(name = "function_versions")
public class FunctionVersionRecord extends FunctionConfig {
    /** {@code name:version}, as {@link FunctionRef#key()}. */
    @Id
    @Column(name = "qualified_name")
    public String qualifiedName;
    @Column(name = "function_name")
    public String functionName;
    public int version;
}
