const char stream_gen_usage[] = "usage: stream-gen\n";
int stream_gen_main(int argc, char **argv);
int stream_gen_main(int argc, char **argv) { (void)argc; (void)argv; return 1; }
