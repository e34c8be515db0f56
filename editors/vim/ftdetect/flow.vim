" .flow files are flowc sources.
autocmd BufRead,BufNewFile *.flow set filetype=flow
