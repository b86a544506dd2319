#!/usr/bin/env python3
"""Converts a .wast script of the legacy exception-handling tests (WebAssembly/exception-handling,
test/legacy/exceptions/core/) from the folded `(try (do ...) (catch $e ...) (delegate $l))` form,
which the `wast` crate no longer parses, to the flat form (`try ... catch $e ... end`,
`try ... delegate $l`), which it does. Everything else is copied as it is.

usage: scripts/legacy-eh-wast.py IN.wast > OUT.wast
(tests/wast/legacy-*.wast were made with it.)
"""
import re, sys
def tokenize(s):
    toks=[]; i=0; n=len(s)
    while i<n:
        c=s[i]
        if s.startswith(';;',i):
            j=s.find('\n',i); j=n if j<0 else j; toks.append(('ws',s[i:j])); i=j; continue
        if s.startswith('(;',i):
            d=0; j=i
            while j<n:
                if s.startswith('(;',j): d+=1; j+=2
                elif s.startswith(';)',j): d-=1; j+=2; 
                else: j+=1
                if d==0: break
            toks.append(('ws',s[i:j])); i=j; continue
        if c in '()': toks.append((c,c)); i+=1; continue
        if c.isspace():
            j=i
            while j<n and s[j].isspace(): j+=1
            toks.append(('ws',s[i:j])); i=j; continue
        if c=='"':
            j=i+1
            while s[j]!='"':
                j+= 2 if s[j]=='\\' else 1
            toks.append(('atom',s[i:j+1])); i=j+1; continue
        j=i
        while j<n and not s[j].isspace() and s[j] not in '()' and s[j]!='"' : j+=1
        toks.append(('atom',s[i:j])); i=j
    return toks
def parse(toks,i):
    # returns list node: ['(', children..., ')'] children are tokens or nodes
    out=[]
    while i<len(toks):
        t=toks[i]
        if t[0]=='(':
            node,i=parse(toks,i+1); out.append(node); continue
        if t[0]==')':
            return out,i+1
        out.append(t); i+=1
    return out,i
def head(node):
    for c in node:
        if isinstance(c,tuple) and c[0]=='ws': continue
        return c[1] if isinstance(c,tuple) else None
    return None
def emit(node):
    if isinstance(node,tuple): return node[1]
    if head(node)=='try':
        return conv_try(node)
    return '('+''.join(emit(c) for c in node)+')'
def conv_try(node):
    parts=[]; rest=[]; seen_head=False
    out='try'
    items=[c for c in node]
    # skip the head 'try'
    idx=0
    while not (isinstance(items[idx],tuple) and items[idx][1]=='try'): idx+=1
    idx+=1
    ended_with_delegate=False
    for c in items[idx:]:
        if isinstance(c,list):
            h=head(c)
            if h in ('do','catch','catch_all','delegate'):
                inner=list(c)
                k=0
                while not (isinstance(inner[k],tuple) and inner[k][1]==h): k+=1
                body=''.join(emit(x) for x in inner[k+1:])
                if h=='do': out+=' '+body
                elif h=='delegate': out+=' delegate'+body; ended_with_delegate=True
                else: out+=' '+h+body
                continue
        out+=emit(c)
    if not ended_with_delegate: out+=' end'
    return out
src=open(sys.argv[1]).read()
toks=tokenize(src)
tree,_=parse(toks,0)
sys.stdout.write(''.join(emit(c) for c in tree))
