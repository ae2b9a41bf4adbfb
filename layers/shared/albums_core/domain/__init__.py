"""Pure rules and models of albums, tracks and their ATProto records: no AWS, no network."""
