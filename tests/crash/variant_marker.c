/* Linked into bank_variant only: a constant the original bank does not have,
 * so the variant is a different build (another build-id) of the same
 * program, as after an edit and a rebuild. */
__attribute__((used)) const char respct_test_variant_marker[] = "bank, test variant 1";
