" Dumps the syntax highlighting of the current buffer, one line per token:
"   LINE:COL TEXT GROUP ITEM
" where a token is a run of non-blank characters with one syntax item, GROUP the
" highlight group it ends up in (synIDtrans) and ITEM the syntax item itself.
"
"   vim -Nu NONE -Es -c 'let g:flow_out = "OUT"' -c 'source editors/vim/tests/dump.vim' FILE
set nocompatible
let s:root = fnamemodify(expand('<sfile>:p'), ':h:h')
let &runtimepath = s:root . ',' . &runtimepath
filetype plugin indent on
syntax on
" Detect the file type again now that the runtime path holds editors/vim.
edit!

let s:out = []
if &filetype !=# 'flow'
  call add(s:out, 'error: filetype is "' . &filetype . '", not "flow"')
endif
for s:l in range(1, line('$'))
  let s:text = getline(s:l)
  let s:c = 1
  while s:c <= len(s:text)
    if s:text[s:c - 1] =~# '\s'
      let s:c += 1
      continue
    endif
    let s:id = synID(s:l, s:c, 1)
    let s:start = s:c
    while s:c <= len(s:text) && s:text[s:c - 1] !~# '\s' && synID(s:l, s:c, 1) == s:id
      let s:c += 1
    endwhile
    let s:group = synIDattr(synIDtrans(s:id), 'name')
    let s:item = synIDattr(s:id, 'name')
    call add(s:out, printf('%d:%d %s %s %s', s:l, s:start, s:text[s:start - 1 : s:c - 2],
          \ empty(s:group) ? '-' : s:group, empty(s:item) ? '-' : s:item))
  endwhile
endfor
call writefile(s:out, g:flow_out)
qall!
