/* noop.c - the trivial program whose start and exit floor.c times, linked statically. */
int
main(void)
{
	return 0;
}
